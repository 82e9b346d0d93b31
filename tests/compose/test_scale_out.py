"""Scale-out: with several replicas of a service, nginx spreads requests over every one of them."""

import json

import pytest
import requests

# service -> (replicas, a path nginx routes to that service)
SCALED = {"auth_server": (2, "/o/.well-known/openid-configuration"), "resource_api": (3, "/api/openapi.json")}


@pytest.fixture(scope="module")
def scaled(compose):
    compose.scale({service: n for service, (n, _) in SCALED.items()})
    yield compose
    compose.scale({service: 1 for service in SCALED})


@pytest.mark.parametrize("service", SCALED)
def test_requests_reach_every_replica(scaled, service):
    replicas, path = SCALED[service]
    addresses = scaled.replica_addresses(service)
    assert len(addresses) == replicas

    request_ids = set()
    for _ in range(10 * replicas):
        response = requests.get(f"{scaled.url}{path}")
        assert response.status_code == 200
        request_ids.add(response.headers["X-Request-ID"])

    # nginx's JSON access log names the upstream address that answered each request.
    served_by = set()
    for line in scaled.logs("nginx").splitlines():
        entry = json.loads(line.split("| ", 1)[-1]) if '"request_id"' in line else {}
        if entry.get("request_id") in request_ids:
            served_by.add(entry["upstream"].rsplit(":", 1)[0])
    assert served_by == addresses
