"""helm lint, strict schema validation of every rendered object against two Kubernetes versions,
and checkov's policy checks with nothing failed."""

import json
import subprocess

import pytest
import yaml

from .conftest import CHART, VALUES, helm

# Two supported minor versions: the oldest the chart declares (Chart.yaml kubeVersion >= 1.29, and
# 1.30 is the kubectl we test with) and a current one. Every object is a built-in kind but the
# Prometheus Operator's ServiceMonitor and PrometheusRule, which no Kubernetes schema knows:
# test_monitoring.py checks those two; every other object is validated strictly, none skipped.
KUBERNETES_VERSIONS = ["1.30.0", "1.33.0"]
OPERATOR_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}

# Checks that do not apply, with the reason; every other check must pass.
CHECKOV_SKIPS = {
    # Images are built from this repository and pushed to the operator's registry under tags they
    # choose (docs/deploy-kubernetes.md); a digest can be given as the tag ("1.0@sha256:...").
    "CKV_K8S_43": "Image should use digest",
    # Tags are immutable releases; image.pullPolicy=Always is one value away for mutable tags.
    "CKV_K8S_15": "Image Pull Policy should be Always",
    # The services read their settings from environment variables (stack/wiring.yaml); the values
    # come from Secrets, never from the pod spec.
    "CKV_K8S_35": "Prefer using secrets as files over secrets as environment variables",
}


@pytest.mark.parametrize("values", VALUES)
def test_helm_lint(tools, values):
    args = ["lint", "--strict", str(CHART)] + (["-f", str(VALUES[values])] if VALUES[values] else [])
    assert "0 chart(s) failed" in helm(tools, *args)


def validate(tools, path, version):
    return subprocess.run([tools / "venv/bin/kubernetes-validate", "--strict", "--quiet", "-k", version, str(path)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", VALUES)
def test_every_object_is_valid_for_kubernetes(tools, objects, values, version, tmp_path):
    core = [o for o in objects[values] if (o["apiVersion"], o["kind"]) not in OPERATOR_KINDS]
    # Only the operator's two kinds are left out, and only where they are turned on.
    assert len(objects[values]) - len(core) == (2 if values == "bundled" else 0)
    path = tmp_path / f"{values}.yaml"
    path.write_text(yaml.safe_dump_all(core))
    result = validate(tools, path, version)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(core) > 20


def test_validation_is_strict(tools, manifests, tmp_path):
    """The check above can fail: an unknown field in a container is refused."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(manifests["default"].read_text().replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: IfNotPresent\n          pullHarder: true", 1))
    assert validate(tools, broken, KUBERNETES_VERSIONS[0]).returncode != 0


def test_checkov_finds_nothing(tools, manifests, tmp_path):
    for name, path in manifests.items():
        (tmp_path / path.name).write_text(path.read_text())
    result = subprocess.run(
        [tools / "venv/bin/checkov", "-d", str(tmp_path), "--framework", "kubernetes", "--output", "json",
         "--skip-download", "--skip-check", ",".join(CHECKOV_SKIPS)],
        capture_output=True, text=True)
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['resource']}" for r in reports for c in r["results"]["failed_checks"]]
    assert failed == []
    # Only the probe checks of the relay and the test pod are skipped in the objects, each with its reason.
    skipped = {(c["check_id"], c["resource"].split(".")[-1]) for r in reports for c in r["results"]["skipped_checks"]}
    assert {check for check, _ in skipped} <= {"CKV_K8S_8", "CKV_K8S_9"}
    assert {resource.rsplit("-", 2)[-2:][0] + "-" + resource.rsplit("-", 1)[-1] for _, resource in skipped} == {"revocation-relay", "smoke-test"}
    assert result.returncode == 0, result.stderr[-2000:]
