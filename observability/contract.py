"""The metrics contract (metrics.yml): the names it allows, its table in docs/observability.md, and
the metric names a PromQL expression reads.

`python -m observability.contract` rewrites the table between the doc's markers from metrics.yml.
"""

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "metrics.yml"
DOC = HERE.parent / "docs" / "observability.md"
BEGIN, END = "<!-- metrics table: rendered from observability/metrics.yml -->", "<!-- end of metrics table -->"

# Series a histogram is exposed as (prometheus_client also adds _created to histograms and counters).
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")

# PromQL words that look like names but are not metrics.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2"}


def metrics() -> list[dict]:
    return yaml.safe_load(CONTRACT.read_text())["metrics"]


def series_names() -> set[str]:
    """Every series name the contract allows a query to read."""
    names = set()
    for metric in metrics():
        names.add(metric["name"])
        if metric["type"] == "histogram":
            names.update(metric["name"] + suffix for suffix in HISTOGRAM_SERIES)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names an expression reads.

    Only for expressions promtool has accepted: strings, label matchers, grouping clauses, ranges
    and durations are removed, then every name not followed by "(" (a function call) is a metric.
    """
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", expr)
    expr = re.sub(r"\$\w+", " ", expr)  # Grafana variables such as $__rate_interval
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        name, call = match.groups()
        if not call and name.lower() not in KEYWORDS and not re.fullmatch(r"\d.*", name):
            names.add(name)
    return names


def table() -> str:
    rows = ["| metric | type | labels | from | meaning |", "| --- | --- | --- | --- | --- |"]
    for metric in metrics():
        labels = ", ".join(f"`{label}`" for label in metric["labels"]) or "none"
        meaning = " ".join(metric["help"].split()).replace("|", "\\|")
        rows.append(f"| `{metric['name']}` | {metric['type']} | {labels} | {metric['source']} | {meaning} |")
    return "\n".join(rows)


def render(doc: str) -> str:
    """The doc with its metrics table replaced by the one metrics.yml gives."""
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    DOC.write_text(render(DOC.read_text()))
    sys.stdout.write(f"rendered {DOC}\n")
