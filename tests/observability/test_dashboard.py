"""The Grafana dashboard: a valid dashboard whose every query is PromQL over contract metrics; and
the contract's table in docs/observability.md, rendered from the same file."""

import json

import yaml

from observability import contract
from tests.observability.test_rules import rules

DASHBOARD = contract.HERE / "grafana" / "oauth-stack.json"
PROVISIONING = contract.HERE / "grafana" / "provisioning"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def queries() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"] if panel["type"] != "row"
            for target in panel["targets"]]


def test_is_a_grafana_dashboard():
    board = dashboard()
    assert board["uid"] == "oauth-stack" and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in board["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat"}, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_provisioning_points_at_the_dashboards_data_source():
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [(s["type"], s["uid"]) for s in sources] == [("prometheus", "prometheus")]
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "oauth-stack.yml").read_text())["providers"]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"]


def test_every_query_is_promql(promtool, tmp_path):
    # promtool parses each query as it would a rule of its own.
    group = {"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": expr}
                                            for i, (_, expr) in enumerate(queries())]}
    path = tmp_path / "dashboard.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}))
    out = promtool("check", "rules", path)
    assert f"SUCCESS: {len(queries())} rules found" in out


def test_queries_read_only_contract_metrics():
    allowed = contract.series_names() | {rule["record"] for rule in rules() if "record" in rule}
    for title, expr in queries():
        names = contract.metric_names(expr)
        assert names, f"{title}: {expr} reads no metric"
        assert not names - allowed, f"{title} reads {names - allowed}, not in observability/metrics.yml"


def test_every_contract_metric_is_used():
    read = set().union(*(contract.metric_names(expr) for _, expr in queries()),
                       *(contract.metric_names(rule["expr"]) for rule in rules()))
    for metric in contract.metrics():
        series = {metric["name"]} | ({metric["name"] + s for s in contract.HISTOGRAM_SERIES}
                                     if metric["type"] == "histogram" else set())
        assert series & read, f"{metric['name']} is in the contract but no rule or panel reads it"


def test_contract_is_well_formed():
    names = [m["name"] for m in contract.metrics()]
    assert len(names) == len(set(names))
    for metric in contract.metrics():
        assert metric["type"] in {"counter", "gauge", "histogram"}, metric["name"]
        assert metric["type"] != "counter" or metric["name"].endswith("_total"), metric["name"]
        assert metric["help"] and metric["source"] and isinstance(metric["labels"], list), metric["name"]


def test_doc_table_is_rendered_from_the_contract():
    doc = contract.DOC.read_text()
    assert contract.render(doc) == doc, "run `.venv/bin/python -m observability.contract`"
