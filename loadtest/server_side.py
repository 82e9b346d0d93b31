"""What the server saw during a load test, read from Prometheus for the same window.

`make loadtest` and `make bench` print these beside locust's figures: locust sees answers from
outside; these come from the services' own counters (observability/metrics.yml), so they show
what the requests did inside (tokens by grant, cache hits, introspections, revocation lag,
errors by code).

Counts are exact differences of the counters between the window's start and end (a series that
first appears during the window counts from 0), not `increase()`, which extrapolates across a
window a few scrapes wide. Quantiles come from the histograms' bucket counts over the window, as
`histogram_quantile` computes them.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

# One scrape interval of observability/prometheus (5 s) and a little: by then the window's last
# requests are in Prometheus.
SCRAPE_SETTLE_SECONDS = 6.5


def window_delta(selector: str, by: tuple[str, ...], seconds: float) -> str:
    """PromQL: how much the counters `selector`, summed by `by`, grew over the last `seconds`."""
    offset = f"{max(1, round(seconds))}s"
    total = f"sum by ({', '.join(by)})" if by else "sum"
    now, then = f"{total} ({selector})", f"{total} ({selector} offset {offset})"
    return f"({now}) - (({then}) or ({now}) * 0)"


# name -> (the counters, the labels to show them by)
COUNTS = {
    "tokens issued": ("oauth_tokens_issued_total", ("grant_type",)),
    "token endpoint errors": ("oauth_token_errors_total", ("error",)),
    "client authentication failures": ("oauth_client_authentication_failures_total", ("endpoint",)),
    "tokens revoked": ("oauth_tokens_revoked_total", ("reason",)),
    "token cache lookups": ("oauth_token_cache_lookups_total", ("result",)),
    "introspections": ("oauth_introspections_total", ("result",)),
    "revocation events received (all API workers)": ("oauth_revocation_events_received_total", ()),
    "API bearer refusals": ("oauth_api_bearer_errors_total", ("error",)),
    "answers by status": ("django_http_responses_total_by_status_view_method_total", ("job", "status")),
}
# name -> the histogram's buckets
QUANTILES = {
    "token endpoint latency": ('django_http_requests_latency_seconds_by_view_method_bucket'
                               '{job="auth_server", view="oauth2_provider:token"}'),
    "revocation lag": "oauth_revocation_lag_seconds_bucket",
    "introspection call": "oauth_introspection_duration_seconds_bucket",
}
# For the plot: per-second rates over a short range, so a run of a minute shows its shape.
SERIES = {
    "tokens/s by grant": "sum by (grant_type) (rate(oauth_tokens_issued_total[15s]))",
    "API token checks/s by result": "sum by (result) (rate(oauth_token_cache_lookups_total[15s]))",
    "introspections/s": "sum(rate(oauth_introspections_total[15s]))",
    "5xx answers/s": 'sum(rate(django_http_responses_total_by_status_view_method_total{status=~"5.."}[15s]))',
}


@dataclass
class ServerSide:
    url: str
    seconds: float
    counts: dict[str, dict[str, float]] = field(default_factory=dict)
    quantiles: dict[str, dict[str, float]] = field(default_factory=dict)
    series: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    targets_down: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def cache_hit_ratio(self) -> float | None:
        lookups = self.counts.get("token cache lookups", {})
        total = sum(lookups.values())
        return (lookups.get("memory", 0) + lookups.get("hit", 0)) / total if total else None


def _query(url: str, params: dict, timeout: float = 10) -> list[dict]:
    answer = requests.get(url, params=params, timeout=timeout)
    answer.raise_for_status()
    body = answer.json()
    if body.get("status") != "success":
        raise RuntimeError(body.get("error", "query failed"))
    return body["data"]["result"]


def _label(metric: dict, by: tuple[str, ...]) -> str:
    return " ".join(metric.get(name, "?") for name in by) if by else "total"


def read(url: str, start: float, end: float, settle: float = SCRAPE_SETTLE_SECONDS) -> ServerSide:
    """Everything above for the window [start, end] (Unix times) from the Prometheus at `url`, read
    `settle` seconds after its end (waiting for that if need be), when the last scrape has it."""
    seconds = end - start
    found = ServerSide(url, seconds)
    time.sleep(max(0.0, end + settle - time.time()))
    at = end + settle
    api = f"{url.rstrip('/')}/api/v1"
    try:
        for name, (selector, by) in COUNTS.items():
            rows = _query(f"{api}/query", {"query": window_delta(selector, by, seconds + settle),
                                            "time": at})
            found.counts[name] = {_label(r["metric"], by): float(r["value"][1]) for r in rows
                                  if float(r["value"][1]) > 0}
        for name, buckets in QUANTILES.items():
            found.quantiles[name] = {}
            grown = window_delta(buckets, ("le",), seconds + settle)
            for q in (0.5, 0.99):
                rows = _query(f"{api}/query", {
                    "query": f"histogram_quantile({q}, {grown})",
                    "time": at})
                value = float(rows[0]["value"][1]) if rows else math.nan
                if not math.isnan(value):
                    found.quantiles[name][f"p{round(q * 100)}"] = value
        step = max(1.0, round(seconds / 120))
        for name, expr in SERIES.items():
            rows = _query(f"{api}/query_range", {"query": expr, "start": start, "end": at, "step": step})
            found.series[name] = {_label(r["metric"], tuple(r["metric"])): [
                (float(t) - start, float(v)) for t, v in r["values"]] for r in rows}
        targets = requests.get(f"{api}/targets", params={"state": "active"}, timeout=10).json()["data"]
        found.targets_down = sorted(f"{t['labels'].get('job')} {t['labels'].get('instance')}"
                                    for t in targets["activeTargets"] if t["health"] != "up")
    except (requests.RequestException, RuntimeError, ValueError, KeyError) as exc:
        found.error = f"Prometheus at {url} could not be read: {exc}"
    return found


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def markdown(found: ServerSide) -> list[str]:
    """The figures as a markdown section (also readable as plain text on a terminal)."""
    lines = ["## Server side (Prometheus, same window)", ""]
    if found.error:
        return [*lines, found.error, ""]
    lines += [f"From the services' own metrics at {found.url}, over the {found.seconds:.0f} s of the run.", "",
              "| what | by | count | per second |", "| --- | --- | ---: | ---: |"]
    for name, values in found.counts.items():
        for label, value in sorted(values.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {name} | {label} | {_number(value)} | {value / max(found.seconds, 1):,.1f} |")
        if not values:
            lines.append(f"| {name} | | 0 | |")
    ratio = found.cache_hit_ratio
    lines += ["", f"Token cache hit ratio (memory or Redis): {'n/a (no API token checks)' if ratio is None else f'{ratio:.1%}'}."]
    for name, values in found.quantiles.items():
        if values:
            lines.append(f"{name.capitalize()}: " + ", ".join(f"{k} {_ms(v)}" for k, v in values.items()) + ".")
    if found.targets_down:
        lines.append("Scrape targets down at the end: " + ", ".join(found.targets_down) + ".")
    return [*lines, ""]


def plot(found: ServerSide, png: Path) -> Path | None:
    """One panel per series of SERIES over the run; None when there is nothing to draw."""
    drawn = {name: lines for name, lines in found.series.items() if lines}
    if found.error or not drawn:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(drawn), 1, figsize=(9, 2.2 * len(drawn)), sharex=True, squeeze=False)
    for ax, (name, lines) in zip(axes[:, 0], drawn.items()):
        for label, points in sorted(lines.items()):
            ax.plot([t for t, _ in points], [v for _, v in points], label=label)
        ax.set_title(name, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("seconds since the start of the run")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
