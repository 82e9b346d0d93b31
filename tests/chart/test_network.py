"""The NetworkPolicies admit exactly the listed paths, at both ends. Ingress: clients reach the entry
point only; nginx reaches the services; resource_api reaches auth_server (introspection);
consumer_demo reaches both (its back channel); only pods running a service's code reach Postgres and
Redis. Egress: the same paths from the sender's side, plus DNS; nothing else leaves a pod. The
rendered policies are evaluated against the labels of every pod the chart makes, so a policy that
admits more (or a pod no policy covers) fails here."""

import pytest

from .conftest import matches, pod_specs

ANYONE = "(any client)"
ANYWHERE = "(any address)"
DNS = "(the cluster's DNS)"
OTHER_NAMESPACE = "(a pod of the namespace allowed)"
SERVICES = {"auth_server", "resource_api", "consumer_demo"}


def pods(objs):
    return {obj["metadata"]["name"]: ({**obj["spec"]["template"]["metadata"]["labels"]} if obj["kind"] != "CronJob" and obj["kind"] != "Pod"
            else obj["metadata"]["labels"]) for obj, _ in pod_specs(objs)}


def admitted(objs) -> set[tuple[str, str, int]]:
    """(from component, to component, port) for every connection the policies allow."""
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    labels = list(pods(objs).values())
    edges = set()
    for target in labels:
        selecting = [p for p in policies if matches(p["spec"]["podSelector"], target) and "Ingress" in p["spec"]["policyTypes"]]
        assert selecting, f"no policy covers {target}"
        for policy in selecting:
            assert "ingress" in policy["spec"] or policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
            for rule in policy["spec"].get("ingress", []):
                ports = [p["port"] for p in rule["ports"]]
                assert ports, "a rule without ports admits every port"
                sources = ([ANYONE] if "from" not in rule else
                           [s["app.kubernetes.io/component"] for s in labels for peer in rule["from"]
                            if "podSelector" in peer and "namespaceSelector" not in peer and matches(peer["podSelector"], s)]
                           + [OTHER_NAMESPACE for peer in rule["from"] if "namespaceSelector" in peer])
                edges |= {(s, target["app.kubernetes.io/component"], port) for s in sources for port in ports}
    return edges


def destination(peer: dict, labels: list[dict]) -> list[str]:
    if "ipBlock" in peer:
        assert set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"], peer
        return [peer["ipBlock"]["cidr"]]
    if "namespaceSelector" in peer:
        return [DNS if peer.get("podSelector") == {"matchLabels": {"k8s-app": "kube-dns"}} else OTHER_NAMESPACE]
    return [s["app.kubernetes.io/component"] for s in labels if matches(peer["podSelector"], s)]


def sent(objs) -> set[tuple[str, str, int, str]]:
    """(from component, to component or address, port, protocol) for every connection the policies let out."""
    policies = [o for o in objs if o["kind"] == "NetworkPolicy" and "Egress" in o["spec"]["policyTypes"]]
    labels = list(pods(objs).values())
    edges = set()
    for source in labels:
        selecting = [p for p in policies if matches(p["spec"]["podSelector"], source)]
        assert selecting, f"no egress policy covers {source}"
        for policy in selecting:
            for rule in policy["spec"].get("egress", []):
                ports = [(p["port"], p["protocol"]) for p in rule["ports"]]
                assert ports, "a rule without ports lets out every port"
                targets = [ANYWHERE] if "to" not in rule else [t for peer in rule["to"] for t in destination(peer, labels)]
                edges |= {(source["app.kubernetes.io/component"], t, port, proto) for t in targets for port, proto in ports}
    return edges


def expected_egress(objs, postgres: str | None, redis: str | None) -> set[tuple[str, str, int, str]]:
    """`postgres`, `redis`: where external servers are allowed (None: bundled)."""
    components = {labels["app.kubernetes.io/component"] for labels in pods(objs).values()}
    edges = {(c, DNS, 53, proto) for c in components for proto in ("UDP", "TCP")}
    edges |= {("nginx", s, 8000, "TCP") for s in SERVICES} | {("smoke-test", "nginx", 8080, "TCP")}
    edges |= {("resource_api", "auth_server", 8000, "TCP"), ("consumer_demo", "auth_server", 8000, "TCP"),
              ("consumer_demo", "resource_api", 8000, "TCP")}
    # Every pod that runs auth_server's or resource_api's code: the services, the relay, the
    # janitor and the bootstrap Jobs; Redis also consumer_demo's.
    postgres_clients = {"auth_server", "resource_api", "revocation_relay", "janitor",
                        "auth_server-bootstrap", "resource_api-bootstrap"}
    edges |= {(c, postgres or "postgres", 5432, "TCP") for c in postgres_clients}
    edges |= {(c, redis or "redis", 6379, "TCP") for c in postgres_clients | {"consumer_demo", "consumer_demo-bootstrap"}}
    return edges


def expected(bundled: bool, nginx_from: str) -> set[tuple[str, str, int]]:
    edges = {(nginx_from, "nginx", 8080), ("nginx", "auth_server", 8000), ("nginx", "resource_api", 8000),
             ("nginx", "consumer_demo", 8000), ("resource_api", "auth_server", 8000),
             ("consumer_demo", "auth_server", 8000), ("consumer_demo", "resource_api", 8000)}
    if nginx_from != ANYONE:
        edges.add(("smoke-test", "nginx", 8080))
    if bundled:
        # Every pod that runs auth_server's or resource_api's code: the services, the relay, the
        # janitor and the bootstrap Jobs; Redis also consumer_demo's.
        postgres_clients = {"auth_server", "resource_api", "revocation_relay", "janitor",
                            "auth_server-bootstrap", "resource_api-bootstrap"}
        edges |= {(c, "postgres", 5432) for c in postgres_clients}
        edges |= {(c, "redis", 6379) for c in postgres_clients | {"consumer_demo", "consumer_demo-bootstrap"}}
        # ci/bundled-values.yaml lets Prometheus's namespace scrape the metrics ports (metrics.scrapeFrom).
        edges |= {(OTHER_NAMESPACE, s, 9100) for s in SERVICES} | {(OTHER_NAMESPACE, "nginx", 9113)}
    return edges


@pytest.mark.parametrize("values, bundled, nginx_from", [
    ("default", False, ANYONE), ("bundled", True, ANYONE), ("external", False, OTHER_NAMESPACE)])
def test_network_policies_admit_exactly_the_listed_paths(objects, values, bundled, nginx_from):
    assert admitted(objects[values]) == expected(bundled, nginx_from)


@pytest.mark.parametrize("values, postgres, redis", [
    ("default", ANYWHERE, ANYWHERE), ("bundled", None, None), ("external", "10.20.0.0/24", "10.30.0.5/32")])
def test_egress_lets_out_exactly_the_listed_paths(objects, values, postgres, redis):
    assert sent(objects[values]) == expected_egress(objects[values], postgres, redis)


def test_the_egress_evaluation_catches_a_wider_policy(objects):
    """A policy letting consumer_demo out anywhere is seen as a path too many."""
    objs = [*objects["default"], {"kind": "NetworkPolicy", "metadata": {"name": "wide"}, "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "consumer_demo"}},
        "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 443, "protocol": "TCP"}]}]}}]
    assert sent(objs) - expected_egress(objects["default"], ANYWHERE, ANYWHERE) == {("consumer_demo", ANYWHERE, 443, "TCP")}


def test_nothing_leaves_without_a_policy(objects):
    """Every pod of the release is under the default deny of both directions."""
    [deny] = [o for o in objects["default"] if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("-default-deny")]
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in deny["spec"] and "ingress" not in deny["spec"]
    for labels in pods(objects["default"]).values():
        assert matches(deny["spec"]["podSelector"], labels)


def test_nginx_admits_only_the_peers_given(objects):
    """ci/external-values.yaml lets only the ingress controller's namespace (and the test pod) in."""
    [policy] = [o for o in objects["external"] if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("-nginx")
                and "Ingress" in o["spec"]["policyTypes"]]
    peers = policy["spec"]["ingress"][0]["from"]
    assert peers[0] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers[1:]] == ["smoke-test"]


def test_the_evaluation_catches_a_wider_policy(objects):
    """A policy admitting anyone to auth_server is seen as a path too many."""
    objs = [*objects["default"], {"kind": "NetworkPolicy", "metadata": {"name": "wide"}, "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/component": "auth_server"}},
        "policyTypes": ["Ingress"], "ingress": [{"ports": [{"port": 8000}]}]}}]
    assert (ANYONE, "auth_server", 8000) in admitted(objs) - expected(False, ANYONE)


def test_the_metrics_port_admits_only_the_scrapers_given(tools):
    import json

    import yaml

    from .conftest import render

    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    objs = [o for o in yaml.safe_load_all(render(tools, None, "--set-json", f"metrics.scrapeFrom={json.dumps([peer])}")) if o]
    for service in SERVICES:
        [policy] = [o for o in objs if o["kind"] == "NetworkPolicy" and "Ingress" in o["spec"]["policyTypes"]
                    and o["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component") == service]
        [rule] = [r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": 9100, "protocol": "TCP"}]]
        assert rule["from"] == [peer]
