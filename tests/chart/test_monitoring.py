"""The Prometheus Operator's objects (monitoring.coreos.com/v1), which no Kubernetes schema knows,
so test_render.py's validation leaves them to this file: the ServiceMonitor scrapes exactly the
three services' metrics ports and names their jobs as the rules select them; the PrometheusRule is
observability/prometheus/rules/*.yml itself, and promtool accepts it."""

import re
import shutil
import subprocess

import pytest
import yaml

from stack import wiring

from .conftest import CHART, ROOT, find, helm, matches, render

RULES = ROOT / "observability/prometheus/rules"
# Jobs of the exporters: nginx's runs beside nginx when metrics.nginxExporter is on; those of
# Postgres and Redis are not the chart's (docs/deploy-kubernetes.md, "Monitoring").
EXPORTER_JOBS = {"postgres", "redis", "nginx"}
# Where each scraped component's /metrics is served: the gunicorn master's port, or the nginx exporter's.
METRICS_PORTS = {**{s: spec["metrics_port"] for s, spec in wiring.SERVICES.items()}, "nginx": 9113}


def operator_objects(objs, kind):
    return [o for o in objs if o["apiVersion"] == "monitoring.coreos.com/v1" and o["kind"] == kind]


def test_off_by_default(objects):
    for values in ("default", "external"):
        assert not [o for o in objects[values] if o["apiVersion"].startswith("monitoring.coreos.com/")]
        nginx = find(objects[values], "Deployment", "nginx")["spec"]["template"]["spec"]
        assert [c["name"] for c in nginx["containers"]] == ["nginx"]


def test_the_chart_reads_the_rules_through_a_link():
    link = CHART / "files/prometheus-rules"
    assert link.is_symlink() and link.resolve() == RULES.resolve()


def test_service_monitor_scrapes_the_services_metrics_ports_as_their_jobs(objects):
    objs = objects["bundled"]
    [monitor] = operator_objects(objs, "ServiceMonitor")
    spec = monitor["spec"]
    assert set(spec) == {"jobLabel", "namespaceSelector", "selector", "endpoints"}
    assert spec["namespaceSelector"] == {"matchNames": ["oauth"]}
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selected = [o for o in objs if o["kind"] == "Service" and matches(spec["selector"], o["metadata"]["labels"])]
    # Exactly the three Django services' Services and nginx's (its exporter), not the bundled servers.
    jobs = {o["metadata"]["labels"][spec["jobLabel"]] for o in selected}
    assert len(selected) == 4 and jobs == set(wiring.SERVICES) | {"nginx"}
    [endpoint] = spec["endpoints"]
    assert endpoint == {"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "10s"}
    for service in selected:
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        assert port["port"] == METRICS_PORTS[component]
        # The Service's port reaches the container port that serves /metrics: the gunicorn master's
        # (METRICS_BIND), or the exporter's beside nginx.
        containers = find(objs, "Deployment", component)["spec"]["template"]["spec"]["containers"]
        [(container, target)] = [(c, p) for c in containers for p in c.get("ports", []) if p["name"] == port["targetPort"]]
        assert target["containerPort"] == METRICS_PORTS[component]
        if component == "nginx":
            assert container["name"] == "exporter"
            assert {"name": "SCRAPE_URI", "value": "http://127.0.0.1:8082/stub_status"} in container["env"]
            [nginx] = [c for c in containers if c["name"] == "nginx"]
            assert {"name": "NGINX_STATUS_LISTEN", "value": "127.0.0.1:8082"} in nginx["env"]
        else:
            assert {"name": "METRICS_BIND", "value": f"0.0.0.0:{target['containerPort']}"} in container["env"]


def test_the_jobs_are_those_the_rules_and_the_other_stacks_use(objects):
    [monitor] = operator_objects(objects["bundled"], "ServiceMonitor")
    jobs = set(monitor["spec"]["selector"]["matchExpressions"][0]["values"])
    assert jobs == set(wiring.SERVICES) | {"nginx"}
    used = set()
    for path in RULES.glob("*.yml"):
        used |= set(re.findall(r'job\s*=\s*"(\w+)"', path.read_text()))
    assert used and used <= jobs | EXPORTER_JOBS
    compose = yaml.safe_load((ROOT / "observability/prometheus/prometheus.compose.yml").read_text())
    compose_jobs = {c["job_name"] for c in compose["scrape_configs"]}
    assert jobs | EXPORTER_JOBS <= compose_jobs


def test_prometheus_rule_is_the_rule_files(objects):
    [rule] = operator_objects(objects["bundled"], "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(rule["spec"]) == {"groups"}
    files = [yaml.safe_load(p.read_text())["groups"] for p in sorted(RULES.glob("*.yml"))]
    assert rule["spec"]["groups"] == [g for groups in files for g in groups]
    names = {r.get("alert") or r.get("record") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"TargetDown", "RevocationLagHigh", "oauth:token_endpoint_5xx:ratio_rate5m"} <= names


def test_a_changed_rule_file_changes_the_rendered_rule(tools, tmp_path):
    """The rules are read, not copied: a chart whose linked file differs renders the difference."""
    chart = tmp_path / "oauth-stack"
    shutil.copytree(CHART, chart, symlinks=False)
    alerts = chart / "files/prometheus-rules/alerts.yml"
    alerts.write_text(alerts.read_text().replace("expr: up == 0", "expr: up == 2"))
    out = helm(tools, "template", "oauth", str(chart), "-n", "oauth", "-f", str(CHART / "ci/bundled-values.yaml"),
               "-s", "templates/monitoring.yaml")
    [rule] = [o for o in yaml.safe_load_all(out) if o and o["kind"] == "PrometheusRule"]
    exprs = {r.get("alert"): r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert exprs["TargetDown"] == "up == 2"


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian package prometheus, `make dev`) is not installed")
def test_promtool_accepts_the_rendered_rules(objects, tmp_path):
    [rule] = operator_objects(objects["bundled"], "PrometheusRule")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in rule["spec"]["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian package prometheus, `make dev`) is not installed")
def test_the_rule_unit_tests_pass_on_the_rendered_rules(objects, tmp_path):
    """observability/prometheus/tests/rules.test.yml, run against the PrometheusRule's groups instead
    of the files: every alert fires and stays quiet, every recording rule records, as on the other stacks."""
    [rule] = operator_objects(objects["bundled"], "PrometheusRule")
    (tmp_path / "rendered.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    tests = yaml.safe_load((ROOT / "observability/prometheus/tests/rules.test.yml").read_text())
    assert tests["rule_files"] and tests["tests"]
    tests["rule_files"] = ["rendered.yml"]
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests))
    result = subprocess.run(["promtool", "test", "rules", "rules.test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_packaged_chart_carries_the_rule_files(tools, tmp_path):
    import tarfile

    helm(tools, "package", str(CHART), "--destination", str(tmp_path))
    [package] = tmp_path.glob("oauth-stack-*.tgz")
    with tarfile.open(package) as tar:
        for path in RULES.glob("*.yml"):
            assert tar.extractfile(f"oauth-stack/files/prometheus-rules/{path.name}").read() == path.read_bytes()


def test_a_service_monitor_whose_scrapes_would_be_refused_is_an_error(tools):
    result = subprocess.run([tools / "bin/helm", "template", "oauth", str(CHART), "--set", "metrics.serviceMonitor.enabled=true"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "metrics.scrapeFrom" in result.stderr
    # With the NetworkPolicies off there is nothing to admit it through.
    out = render(tools, None, "--set", "metrics.serviceMonitor.enabled=true", "--set", "networkPolicy.enabled=false")
    assert operator_objects([o for o in yaml.safe_load_all(out) if o], "ServiceMonitor")
