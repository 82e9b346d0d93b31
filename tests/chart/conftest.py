"""The Helm chart (deploy/helm/oauth-stack), proven offline: rendered with helm for each values set,
then read as plain objects. The tools come from deploy/helm/tools.sh (fetched once, cached)."""

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/oauth-stack"
NAMESPACE = "oauth"
RELEASE = "oauth"
# The default values, and the chart's other values files (ci/*-values.yaml).
VALUES = {"default": None, **{p.name.removesuffix("-values.yaml"): p for p in sorted((CHART / "ci").glob("*-values.yaml"))}}


@pytest.fixture(scope="session")
def tools() -> Path:
    out = subprocess.run([ROOT / "deploy/helm/tools.sh"], check=True, capture_output=True, text=True)
    return ROOT / out.stdout.strip()


def helm(tools: Path, *args: str) -> str:
    result = subprocess.run([tools / "bin/helm", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(tools: Path, values: Path | None, *extra: str) -> str:
    return helm(tools, "template", RELEASE, str(CHART), "--namespace", NAMESPACE,
                *(["-f", str(values)] if values else []), *extra)


@pytest.fixture(scope="session")
def manifests(tools, tmp_path_factory) -> dict[str, Path]:
    """Each values set rendered into a file (hooks and test pods included, as `helm template` does)."""
    out = tmp_path_factory.mktemp("rendered")
    files = {}
    for name, values in VALUES.items():
        files[name] = out / f"{name}.yaml"
        files[name].write_text(render(tools, values))
    return files


@pytest.fixture(scope="session")
def objects(manifests) -> dict[str, list[dict]]:
    return {name: [o for o in yaml.safe_load_all(path.read_text()) if o] for name, path in manifests.items()}


def pod_specs(objs: list[dict]):
    """(object, pod spec) for every object that makes pods."""
    for o in objs:
        kind = o["kind"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            yield o, o["spec"]["template"]["spec"]
        elif kind == "CronJob":
            yield o, o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield o, o["spec"]


def find(objs: list[dict], kind: str, component: str) -> dict:
    [o] = [o for o in objs if o["kind"] == kind and o["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return o


def matches(selector: dict, labels: dict) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions with In) selects `labels`."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        assert e["operator"] == "In", e
        if labels.get(e["key"]) not in e["values"]:
            return False
    return True
