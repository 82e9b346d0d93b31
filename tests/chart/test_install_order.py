"""`helm install --wait --wait-for-jobs` can finish: nothing Helm waits for depends on something Helm
creates only after the wait. Helm installs in three steps: pre-install hooks (by weight, each Job to
completion), then the release's objects (what --wait and --wait-for-jobs wait for: Deployments and
StatefulSets ready, Jobs complete), then post-install hooks. Each dependency of the rendered objects
(a service's pods on its bootstrap Job, a Job on the Secrets and bundled servers it connects to) must
point at the same step or an earlier one."""

import pytest

from .conftest import VALUES, find

PRE, RELEASE, POST = 0, 1, 2
SERVICES_WITH_DATABASE = ("auth_server", "resource_api")


def step(obj) -> tuple[int, int]:
    annotations = obj["metadata"].get("annotations") or {}
    hooks = annotations.get("helm.sh/hook", "")
    weight = int(annotations.get("helm.sh/hook-weight", "0"))
    if not hooks:
        return RELEASE, 0
    assert "post-install" not in hooks and "post-upgrade" not in hooks, (obj["metadata"]["name"], hooks)
    assert "pre-install" in hooks, (obj["metadata"]["name"], hooks)
    return PRE, weight


def secret_refs(container) -> set[str]:
    return {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}


@pytest.mark.parametrize("values", VALUES)
def test_nothing_waited_for_depends_on_what_comes_after_the_wait(objects, values):
    objs = objects[values]
    bundled = {s for s in ("postgres", "redis") if any(o["kind"] == "StatefulSet" and o["metadata"]["labels"]["app.kubernetes.io/component"] == s for o in objs)}
    secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
    for service in SERVICES_WITH_DATABASE:
        deployment = find(objs, "Deployment", service)
        assert [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]] == ["wait-for-bootstrap"]
        job = find(objs, "Job", f"{service}-bootstrap")
        # The service's pods wait for the Job: it must come no later than they do.
        assert step(job) <= step(deployment)
        spec = job["spec"]["template"]["spec"]
        [container] = spec["containers"]
        # Secrets the Job reads are created before it (they are pre-install hooks, kept), or are the operator's.
        for name in secret_refs(container):
            if name in secrets:
                assert step(secrets[name]) < step(job), name
        if bundled:
            # Created with the release, the Job waits for the bundled servers it connects to, themselves release objects.
            assert step(job) == (RELEASE, 0) and job["metadata"]["name"].endswith("-bootstrap-1")
            [wait] = spec["initContainers"]
            addresses = set(wait["args"])
            for server in bundled:
                service_obj = find(objs, "Service", server)
                assert step(service_obj) == step(find(objs, "StatefulSet", server)) == (RELEASE, 0)
                address = f"{service_obj['metadata']['name']}:{service_obj['spec']['ports'][0]['port']}"
                assert address in addresses
                assert any(address in e.get("value", "") for e in container["env"]), (service, server)
        else:
            # External servers exist before the release: the Job runs first, before anything changes.
            assert step(job)[0] == PRE and "initContainers" not in spec


def test_the_model_catches_a_post_install_bootstrap(objects):
    job = find(objects["bundled"], "Job", "auth_server-bootstrap")
    late = {**job, "metadata": {**job["metadata"], "annotations": {"helm.sh/hook": "post-install,post-upgrade"}}}
    with pytest.raises(AssertionError):
        step(late)
