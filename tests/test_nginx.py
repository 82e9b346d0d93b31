"""nginx, the one entry point: headers it sets, limits it enforces, errors it answers itself."""

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from stack.local import LocalStack
from stack import flows

JSON_ROUTES = ["/o/token/", "/o/introspect/", "/o/revoke_token/", "/o/userinfo/", "/o/.well-known/openid-configuration",
               "/.well-known/oauth-authorization-server/o", "/api/posts/", "/api/openapi.json"]
PAGES = ["/", "/accounts/login/", "/admin/", "/o/authorize/", "/o/applications/"]


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/", "/api/public/", "/accounts/login/", "/o/.well-known/openid-configuration"])
def test_security_headers_on_every_service(stack, path):
    r = requests.get(f"{stack.url}{path}")
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "nginx/" not in r.headers.get("Server", "")


@pytest.mark.e2e
def test_request_id_is_assigned_by_nginx_not_the_client(stack):
    r = requests.get(f"{stack.url}/api/public/", headers={"X-Request-ID": "client-chosen"})
    assert r.headers["X-Request-ID"] != "client-chosen"
    assert len(r.headers["X-Request-ID"]) == 32


@pytest.mark.e2e
def test_oversized_token_request_gets_oauth_error_json(stack):
    r = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials", "junk": "x" * 40_000})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


@pytest.mark.e2e
def test_oversized_api_request_gets_json(stack):
    r = requests.post(f"{stack.url}/api/posts/", data="x" * 300_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == "invalid_request"


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/o/token/", "/o/device-authorization/", "/accounts/login/"])
def test_credential_endpoints_are_rate_limited_with_429(stack, path):
    # Far more requests than rate + burst, at once, from one address.
    def hit(_):
        return requests.post(f"{stack.url}{path}", data={"grant_type": "unknown"})

    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(hit, range(600)))
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "no request was rate-limited"
    if path.startswith("/o/"):  # clients get OAuth error JSON, people a page
        assert limited[0].json()["error"] == "rate_limited"
        assert limited[0].headers["Retry-After"] == "1"
    else:
        assert limited[0].headers["Content-Type"].startswith("text/html")
        assert "Too many sign-in attempts" in limited[0].text
    # The API is not behind that limit.
    assert requests.get(f"{stack.url}/api/public/").status_code == 200
    # The bucket (burst 20 at 10 r/s on test stacks) refills before the suite's next sign-in.
    time.sleep(3)


@pytest.mark.e2e
def test_pages_may_submit_forms_only_to_this_origin(stack):
    csp = requests.get(f"{stack.url}/accounts/login/").headers["Content-Security-Policy"]
    assert "form-action 'self';" in csp and "default-src 'self'" in csp


@pytest.mark.e2e
@pytest.mark.parametrize("path", JSON_ROUTES)
def test_json_routes_get_a_csp_that_allows_nothing(stack, path):
    csp = requests.get(f"{stack.url}{path}").headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none';") and "form-action 'none'" in csp and "sandbox" in csp


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/o/token/", "/api/posts/", "/", "/accounts/login/", "/static/auth_server/oauth/site.css"])
def test_methods_nginx_refuses_itself_get_json_and_allow(stack, path):
    for method in ("TRACE", "POST") if path.startswith("/static/") else ("TRACE",):
        r = requests.request(method, f"{stack.url}{path}")
        assert r.status_code == 405 and r.headers["Allow"], r.headers
        assert r.headers["Content-Type"] == "application/json" and r.json()["error"] == "invalid_request"


@pytest.mark.e2e
def test_request_line_too_long_gets_json(stack):
    url = urlsplit(stack.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.request("GET", "/o/token/?x=" + "y" * 9000)
    r = connection.getresponse()
    assert r.status == 414 and r.headers["Content-Type"] == "application/json"
    assert json.loads(r.read())["error"] == "invalid_request"


# service -> (what a JSON route of it answers, its routes that people open)
DOWN = {
    "auth_server": ({"error": "temporarily_unavailable"}, ["/accounts/login/", "/admin/", "/o/authorize/"]),
    "resource_api": ({"detail": "The posts API is temporarily unavailable; retry shortly."}, []),
    "consumer_demo": (None, ["/", "/callback/"]),
}


@pytest.mark.parametrize("service", DOWN)
def test_a_service_process_down_gives_503_retry_after_in_the_routes_format(stack, service):
    if not isinstance(stack, LocalStack):
        pytest.skip("stops a process of the local stack")
    json_answer, pages = DOWN[service]
    json_routes = {"auth_server": JSON_ROUTES[:6], "resource_api": JSON_ROUTES[6:]}.get(service, [])
    stack.stop_service(service)
    try:
        for path in json_routes:
            r = requests.post(f"{stack.url}{path}") if path.startswith("/o/") and "well-known" not in path \
                else requests.get(f"{stack.url}{path}")
            assert r.status_code == 503 and r.headers["Content-Type"] == "application/json", (path, r.text[:200])
            assert json_answer.items() <= r.json().items() and int(r.headers["Retry-After"]) > 0
        for path in pages:
            r = requests.get(f"{stack.url}{path}")
            assert r.status_code == 503 and r.headers["Content-Type"] == "text/html", (path, r.text[:200])
            assert "<h1>Temporarily unavailable</h1>" in r.text and int(r.headers["Retry-After"]) > 0
            assert "form-action 'self'" in r.headers["Content-Security-Policy"]
    finally:
        stack.start_service(service)
    assert requests.get(f"{stack.url}{(json_routes or pages)[-1]}").status_code < 500
