"""Every pod the chart makes: probes (long-running servers), requests and limits, and the security
context of docs/deploy-kubernetes.md ("Security"); a test fails if any of it is missing."""

import pytest

from .conftest import VALUES, pod_specs

# Long-running workloads without a port: nothing to probe over HTTP (its checkov skip says why).
NO_PROBES = {"revocation_relay"}


def containers(spec):
    return [*(spec.get("initContainers") or []), *spec["containers"]]


@pytest.mark.parametrize("values", VALUES)
def test_every_container_has_requests_limits_and_a_locked_down_security_context(objects, values):
    seen = 0
    for obj, spec in pod_specs(objects[values]):
        where = f"{obj['kind']} {obj['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] >= 10000, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in containers(spec):
            seen += 1
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, (where, c["name"])
            assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False, (where, c["name"])
            assert sc["readOnlyRootFilesystem"] is True, (where, c["name"])
            assert sc["capabilities"] == {"drop": ["ALL"]}, (where, c["name"])
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, (where, c["name"])
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (where, c["name"], kind)
    assert seen >= 10


@pytest.mark.parametrize("values", VALUES)
def test_every_deployment_and_statefulset_is_probed(objects, values):
    probed = set()
    for obj, spec in pod_specs(objects[values]):
        component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
        if obj["kind"] not in ("Deployment", "StatefulSet") or component in NO_PROBES:
            continue
        for c in spec["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in c, (obj["metadata"]["name"], c["name"], probe)
        probed.add(component)
    assert {"auth_server", "resource_api", "consumer_demo", "nginx"} <= probed


def test_read_only_root_filesystems_get_writable_scratch(objects):
    """With the root filesystem read-only, /tmp is an emptyDir wherever code runs."""
    for obj, spec in pod_specs(objects["bundled"]):
        for c in spec["containers"]:
            assert "/tmp" in {m["mountPath"] for m in c.get("volumeMounts", [])}, obj["metadata"]["name"]
