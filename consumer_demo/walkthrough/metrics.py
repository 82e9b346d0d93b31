"""The consumer demo's own Prometheus metric (observability/metrics.yml; common/metrics.py says how
it is served)."""

from prometheus_client import Counter

WALKTHROUGH_STEPS = Counter("oauth_demo_walkthrough_steps", "Walkthrough steps done, by step and outcome.",
                            ["step", "outcome"])
