"""Both Prometheus configurations, the rules and their unit tests, checked by promtool."""

import re
import shutil
from string import Template

import yaml

from observability.contract import DOC, metric_names, series_names
from tests.observability.conftest import PROMETHEUS

RULES = PROMETHEUS / "rules"
LOCAL_PORTS = {"PROMETHEUS_PORT": 9090, "AUTH_METRICS_PORT": 9101, "API_METRICS_PORT": 9102,
               "DEMO_METRICS_PORT": 9103, "NGINX_EXPORTER_PORT": 9113, "POSTGRES_EXPORTER_PORT": 9187,
               "REDIS_EXPORTER_PORT": 9121}
JOBS = {"prometheus", "auth_server", "resource_api", "consumer_demo", "nginx", "postgres", "redis"}


def rules() -> list[dict]:
    return [rule for path in sorted(RULES.glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def test_local_config_renders_and_passes_promtool(promtool, tmp_path):
    template = (PROMETHEUS / "prometheus.local.yml").read_text()
    rendered = Template(template).substitute(LOCAL_PORTS, RULES_DIR=RULES)
    (tmp_path / "prometheus.yml").write_text(rendered)
    out = promtool("check", "config", tmp_path / "prometheus.yml")
    assert "alerts.yml" in out and "recording.yml" in out  # the rules were found and checked too
    config = yaml.safe_load(rendered)
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS
    targets = [t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert all(t.startswith("127.0.0.1:") for t in targets), targets


def test_local_config_names_exactly_the_documented_placeholders():
    template = (PROMETHEUS / "prometheus.local.yml").read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", template))
    assert placeholders == {*LOCAL_PORTS, "RULES_DIR"}
    doc = DOC.read_text()
    assert all(f"${{{name}}}" in doc for name in LOCAL_PORTS), "every port placeholder is documented"


def test_compose_config_passes_promtool(promtool, tmp_path):
    shutil.copy(PROMETHEUS / "prometheus.compose.yml", tmp_path / "prometheus.yml")
    shutil.copytree(RULES, tmp_path / "rules")  # where Compose mounts them, next to the config
    out = promtool("check", "config", tmp_path / "prometheus.yml")
    assert "alerts.yml" in out and "recording.yml" in out
    config = yaml.safe_load((PROMETHEUS / "prometheus.compose.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS


def test_rules_pass_promtool_check(promtool):
    promtool("check", "rules", *sorted(RULES.glob("*.yml")))


def test_rule_unit_tests_pass(promtool):
    out = promtool("test", "rules", PROMETHEUS / "tests" / "rules.test.yml")
    assert "SUCCESS" in out


def test_every_alert_and_recording_rule_has_a_unit_test():
    tests = yaml.safe_load((PROMETHEUS / "tests" / "rules.test.yml").read_text())["tests"]
    alert_cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    recorded = {case["expr"] for test in tests for case in test.get("promql_expr_test", [])}
    for rule in rules():
        if "alert" in rule:
            cases = [c for c in alert_cases if c["alertname"] == rule["alert"]]
            assert any(c["exp_alerts"] for c in cases), f"{rule['alert']}: no case where it fires"
            assert any(not c["exp_alerts"] for c in cases), f"{rule['alert']}: no case where it stays quiet"
        else:
            assert rule["record"] in recorded, f"{rule['record']}: no case with its value"


def test_every_alert_has_for_severity_and_a_runbook_section():
    anchors = {re.sub(r"[^a-z0-9_ -]", "", line[4:].strip().lower()).replace(" ", "-")
               for line in DOC.read_text().split("## Operating it", 1)[1].splitlines() if line.startswith("### ")}
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 7
    for rule in alerts:
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys(), rule["alert"]
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page == "docs/observability.md" and anchor in anchors, rule["alert"]


def test_rules_read_only_contract_metrics():
    allowed = series_names() | {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        unknown = metric_names(rule["expr"]) - allowed
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}, not in observability/metrics.yml"
