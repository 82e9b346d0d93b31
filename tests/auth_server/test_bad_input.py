"""Bad input: an OAuth error (RFC 6749 §5.2) or a readable page, always 4xx, never 500, nothing lost."""

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from stack import flows

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CHALLENGE = "a" * 43


def basic(raw: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def assert_oauth_error(response, *errors):
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    assert response.json()["error"] in errors, response.text


def raw_request(stack, method: str, target: str, body: bytes = b"", headers: dict | None = None):
    """A request sent as given: requests would re-quote a malformed query string before sending it."""
    url = urlsplit(stack.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, target, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def assert_readable_4xx(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert "text/html" in response.headers.get("Content-Type", "")
    assert "Server Error" not in response.text


@pytest.fixture(scope="module")
def stored(stack):
    """Tokens issued before the bad input: all must still work afterwards."""
    session = flows.login(stack.url, stack.env["DEMO_USERNAME"], stack.env["DEMO_PASSWORD"])
    yield session, flows.authorization_code_tokens(stack.url, session, flows.demo_client(stack))


@pytest.fixture(scope="module")
def clients(stack):
    return {"demo": flows.demo_client(stack).auth, "loadtest": flows.loadtest_client(stack).auth,
            "api": (stack.env["API_CLIENT_ID"], stack.env["API_CLIENT_SECRET"])}


TOKEN_CASES = {
    # name: (request kwargs, client, accepted errors)
    "missing grant_type": (dict(data={}), "demo", ["invalid_request", "unsupported_grant_type"]),
    "unknown grant_type": (dict(data={"grant_type": "nonsense"}), "demo", ["unsupported_grant_type"]),
    "password grant": (dict(data={"grant_type": "password", "username": "a", "password": "b"}), "demo",
                       ["unsupported_grant_type"]),
    "device grant for a code client": (
        dict(data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "x"}),
        "demo", ["unauthorized_client"]),
    "duplicated code": (dict(data=b"grant_type=authorization_code&code=a&code=b", headers=FORM), "demo",
                        ["invalid_request"]),
    "implicit as grant": (dict(data={"grant_type": "implicit"}), "demo", ["unsupported_grant_type"]),
    "duplicated grant_type": (dict(data=b"grant_type=client_credentials&grant_type=client_credentials",
                                   headers=FORM), "loadtest", ["invalid_request"]),
    "duplicated scope": (dict(data=b"grant_type=client_credentials&scope=read&scope=write", headers=FORM),
                         "loadtest", ["invalid_request"]),
    "missing code": (dict(data={"grant_type": "authorization_code"}), "demo", ["invalid_request"]),
    "unknown code": (dict(data={"grant_type": "authorization_code", "code": "nope", "code_verifier": CHALLENGE}),
                     "demo", ["invalid_grant"]),
    "NUL in code": (dict(data=b"grant_type=authorization_code&code=%00x&code_verifier=" + CHALLENGE.encode(),
                         headers=FORM), "demo", ["invalid_request"]),
    "NUL in refresh token": (dict(data=b"grant_type=refresh_token&refresh_token=%00", headers=FORM), "demo",
                             ["invalid_request", "invalid_grant"]),
    "unknown refresh token": (dict(data={"grant_type": "refresh_token", "refresh_token": "nope"}), "demo",
                              ["invalid_grant"]),
    "invalid UTF-8 value": (dict(data=b"grant_type=client_credentials&scope=\xff\xfe", headers=FORM), "loadtest",
                            ["invalid_scope"]),
    "invalid UTF-8 name": (dict(data=b"\xff=1&grant_type=client_credentials&scope=%zz", headers=FORM), "loadtest",
                           ["invalid_scope"]),
    "unknown scope": (dict(data={"grant_type": "client_credentials", "scope": "root"}), "loadtest", ["invalid_scope"]),
    "JSON body": (dict(data=json.dumps({"grant_type": "client_credentials"}),
                       headers={"Content-Type": "application/json"}), "loadtest",
                  ["invalid_request", "unsupported_grant_type"]),
    "no client authentication": (dict(data={"grant_type": "client_credentials"}), None, ["invalid_client"]),
    "wrong secret": (dict(data={"grant_type": "client_credentials"}, auth=("x", "y")), None, ["invalid_client"]),
    "Basic not base64": (dict(data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"}),
                         None, ["invalid_client"]),
    "Basic without colon": (dict(data={"grant_type": "client_credentials"}, headers=basic(b"only-an-id")), None,
                            ["invalid_client"]),
    "Basic invalid UTF-8": (dict(data={"grant_type": "client_credentials"}, headers=basic(b"\xff\xfe:\xff")), None,
                            ["invalid_client"]),
    "Basic with NUL": (dict(data={"grant_type": "client_credentials"}, headers=basic(b"%00:%00")), None,
                       ["invalid_request", "invalid_client"]),
    "NUL client_id in body": (dict(data=b"grant_type=client_credentials&client_id=%00&client_secret=x",
                                   headers=FORM), None, ["invalid_request", "invalid_client"]),
    "Bearer instead of client auth": (dict(data={"grant_type": "client_credentials"},
                                           headers={"Authorization": "Bearer abc"}), None, ["invalid_client"]),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", TOKEN_CASES, ids=list(TOKEN_CASES))
def test_token_endpoint(stack, stored, clients, case):
    kwargs, client, errors = TOKEN_CASES[case]
    if client:
        kwargs = {**kwargs, "auth": clients[client]}
    assert_oauth_error(requests.post(f"{stack.url}/o/token/", **kwargs), *errors)


@pytest.mark.e2e
def test_oversized_body_is_refused_by_nginx(stack, clients):
    r = requests.post(f"{stack.url}/o/token/", data={"grant_type": "client_credentials", "scope": "x" * 20000},
                      auth=clients["loadtest"])
    assert r.status_code == 413


def test_oversized_body_is_refused_by_django_too(stack, clients):
    """Behind any proxy: Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) answers 400, not 500."""
    r = requests.post(f"{stack.service_url('auth_server')}/o/token/", auth=clients["loadtest"],
                      data={"grant_type": "client_credentials", "scope": "x" * 100_000})
    assert_oauth_error(r, "invalid_request")


@pytest.mark.e2e
@pytest.mark.parametrize("body", [b"", b"token=%00", b"token=\xff", b"token=a&token=b", b"token=" + b"x" * 8000])
def test_revocation_endpoint(stack, clients, body):
    r = requests.post(f"{stack.url}/o/revoke_token/", data=body, headers=FORM, auth=clients["demo"])
    if body == b"" or b"%00" in body or b"&token=" in body:
        assert_oauth_error(r, "invalid_request")
    else:
        assert r.status_code == 200  # RFC 7009 §2.2: unknown tokens are "revoked" too


@pytest.mark.e2e
@pytest.mark.parametrize("body", [b"", b"token=%00", b"token=\xff", b"token=a&token=b", b"other=1"])
def test_introspection_endpoint(stack, clients, body):
    r = requests.post(f"{stack.url}/o/introspect/", data=body, headers=FORM, auth=clients["api"])
    if body in (b"", b"other=1", b"token=a&token=b") or b"%00" in body:
        assert_oauth_error(r, "invalid_request")
    else:
        assert r.status_code == 200 and r.json() == {"active": False}


AUTHORIZE_CASES = {
    "no parameters": "",
    "no client_id": "response_type=code&redirect_uri={ru}",
    "duplicated client_id": "response_type=code&client_id={cid}&client_id={cid}&redirect_uri={ru}&code_challenge={ch}"
                            "&code_challenge_method=S256",
    "duplicated redirect_uri": "response_type=code&client_id={cid}&redirect_uri={ru}&redirect_uri={ru}"
                               "&code_challenge={ch}&code_challenge_method=S256",
    "NUL in client_id": "response_type=code&client_id=%00&redirect_uri={ru}",
    "invalid UTF-8 client_id": "response_type=code&client_id=%ff%fe&redirect_uri={ru}",
    "malformed redirect_uri": "response_type=code&client_id={cid}&redirect_uri=%zz:/&code_challenge={ch}"
                              "&code_challenge_method=S256",
    "malformed claims": "response_type=code&client_id={cid}&redirect_uri={ru}&scope=openid&claims=%7Bnot-json"
                        "&code_challenge={ch}&code_challenge_method=S256",
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", AUTHORIZE_CASES, ids=list(AUTHORIZE_CASES))
def test_authorization_endpoint_shows_a_page(stack, stored, case):
    session, _ = stored
    e = stack.env
    query = AUTHORIZE_CASES[case].format(cid=e["DEMO_CLIENT_ID"], ru=flows.demo_redirect_uri(stack), ch=CHALLENGE)
    r = session.get(f"{stack.url}/o/authorize/?{query}", allow_redirects=False)
    assert_readable_4xx(r)
    assert "Location" not in r.headers


@pytest.mark.e2e
@pytest.mark.parametrize("extra, error", [
    ("", "invalid_request"),  # no response_type, but client and redirect URI are known: tell the client
    ("&response_type=banana", "unsupported_response_type"),
    ("&response_type=code&scope=root&code_challenge_method=S256&code_challenge=" + CHALLENGE, "invalid_scope"),
    ("&response_type=code&code_challenge_method=S512&code_challenge=" + CHALLENGE, "invalid_request"),
])
def test_authorization_errors_for_a_known_client_go_back_to_it(stack, stored, extra, error):
    session, _ = stored
    r = session.get(f"{stack.url}/o/authorize/?client_id={stack.env['DEMO_CLIENT_ID']}"
                    f"&redirect_uri={flows.demo_redirect_uri(stack)}&state=s{extra}", allow_redirects=False)
    params = flows.code_from(r)
    assert r.headers["Location"].startswith(flows.demo_redirect_uri(stack))
    assert params["error"] == error and params["state"] == "s"
    assert params["iss"] == f"{stack.url}/o"  # RFC 9207: on errors too


@pytest.mark.e2e
@pytest.mark.parametrize("change", [
    {"redirect_uri": "https://evil.example/"}, {"client_id": "\x00"}, {"client_id": ""},
    {"scope": "introspection"}, {"code_challenge_method": "plain"}, {"code_challenge": ""},
], ids=["redirect_uri", "NUL client_id", "no client_id", "scope", "plain", "no challenge"])
def test_tampered_consent_form(stack, stored, change):
    session, _ = stored
    request = flows.AuthorizationRequest(flows.demo_client(stack))
    page = session.get(f"{stack.url}/o/authorize/", params=request.params())
    fields = flows.forms(page.text)[-1]["fields"]
    # Posted without the query string, so only the (tampered) hidden fields count.
    r = session.post(f"{stack.url}/o/authorize/", data={**fields, **change, "allow": "Authorize"},
                     allow_redirects=False)
    assert r.status_code < 500
    location = r.headers.get("Location", "")
    assert "code=" not in location and "evil.example" not in location


@pytest.mark.e2e
@pytest.mark.parametrize("username", ["a\x00b", "\udcff", "x" * 5000])
def test_login_form(stack, username):
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/")
    r = flows.submit_form(session, page, {"username": username.encode("utf-8", "surrogateescape"), "password": "x"})
    assert r.status_code in (200, 400) and "Server Error" not in r.text


@pytest.mark.e2e
def test_login_without_csrf_token(stack):
    assert_readable_4xx(requests.post(f"{stack.url}/accounts/login/", data={"username": "a", "password": "b"}))


@pytest.mark.e2e
@pytest.mark.parametrize("query", ["id_token_hint=abc.def.ghi", "id_token_hint=%ff", "client_id=%00",
                                   "post_logout_redirect_uri=https://evil.example/"])
def test_logout_endpoint(stack, stored, query):
    session, _ = stored
    r = session.get(f"{stack.url}/o/logout/?{query}", allow_redirects=False)
    assert r.status_code < 500 and "evil.example" not in r.headers.get("Location", "")


@pytest.mark.e2e
@pytest.mark.parametrize("header", ["Bearer", "Bearer \u00ff", "Basic abc", "Bearer a b c", "bearer " + "x" * 3000])
def test_userinfo_with_malformed_authorization(stack, header):
    r = requests.get(f"{stack.url}/o/userinfo/", headers={"Authorization": header.encode("latin-1")})
    assert r.status_code in (400, 401) and "sub" not in r.text


def test_nothing_stored_was_lost(stack, stored, clients):
    """Runs after the cases above (same module): the tokens issued before them all still work."""
    _, tokens = stored
    introspection = requests.post(f"{stack.url}/o/introspect/", data={"token": tokens["access_token"]},
                                  auth=clients["api"]).json()
    assert introspection["active"] is True
    r = flows.refresh(stack.url, flows.demo_client(stack), tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert flows.client_credentials_token(stack.url, flows.loadtest_client(stack)).status_code == 200


# ---- malformed percent-encoding in the query string ------------------------------------------------
JSON_ENDPOINTS = ["/o/token/", "/o/introspect/", "/o/revoke_token/", "/o/userinfo/"]
PAGES = ["/o/authorize/", "/accounts/login/", "/admin/", "/admin/login/", "/o/applications/",
         "/o/authorized_tokens/", "/o/logout/", "/accounts/logout/"]


@pytest.mark.e2e
@pytest.mark.parametrize("query", ["%zz", "a=%zz", "next=%", "a=%2", "scope=read%"])
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_malformed_query_at_json_endpoints_is_invalid_request(stack, clients, path, query):
    for method in ("GET", "POST"):
        status, headers, body = raw_request(stack, method, f"{path}?{query}", b"grant_type=client_credentials",
                                            {"Content-Type": FORM["Content-Type"], **basic(b"%s:%s" % tuple(
                                                part.encode() for part in clients["loadtest"]))})
        assert status == 400, (method, status, body[:300])
        assert headers["Content-Type"] == "application/json", body[:300]
        assert json.loads(body)["error"] == "invalid_request"


@pytest.mark.e2e
@pytest.mark.parametrize("query", ["%zz", "next=%zz", "client_id=%", "a=%2"])
@pytest.mark.parametrize("path", PAGES)
def test_malformed_query_on_pages_is_a_readable_400(stack, stored, path, query):
    session, _ = stored  # signed in: DOT validates the authorization request only then
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    status, headers, body = raw_request(stack, "GET", f"{path}?{query}", headers={"Cookie": cookie})
    assert status == 400 and "Location" not in headers, (status, body[:300])
    assert headers["Content-Type"].startswith("text/html") and b"This request can't be handled" in body


# ---- the JSON endpoints answer JSON, whatever they are sent ---------------------------------------
MARKUP = "<h1>x</h1><form action=//evil>"


def json_endpoint_cases(clients):
    """(method, target, body, headers) for every endpoint: wrong methods, bodies, types and credentials."""
    form = {"Content-Type": FORM["Content-Type"]}
    loadtest = basic(b"%s:%s" % tuple(part.encode() for part in clients["loadtest"]))
    bodies = {
        "markup resource": f"grant_type=client_credentials&resource={MARKUP}".encode(),
        "markup scope": f"grant_type=client_credentials&scope={MARKUP}".encode(),
        "markup grant": f"grant_type={MARKUP}".encode(),
        "markup code": f"grant_type=authorization_code&code={MARKUP}&redirect_uri={MARKUP}".encode(),
        "markup token": f"token={MARKUP}&token_type_hint={MARKUP}".encode(),
        "markup client": f"grant_type=client_credentials&client_id={MARKUP}&client_secret=x".encode(),
        "huge resource": b"grant_type=client_credentials&resource=" + b"x" * 12_000,
        "too many fields": b"&".join(b"f%d=1" % i for i in range(1100)),
        "JSON": json.dumps({"grant_type": "client_credentials", "resource": MARKUP}).encode(),
        "broken multipart": b"--x\r\ngarbage",
    }
    credentials = [loadtest, {}, {"Authorization": "Basic !!!" + MARKUP}, basic(MARKUP.encode() + b":x"),
                   {"Authorization": "Bearer " + MARKUP}, basic(b"\xff:\xfe")]
    content_types = [form, {"Content-Type": "application/json"}, {"Content-Type": "multipart/form-data"},
                     {"Content-Type": "text/html"}, {"Content-Type": f"{FORM['Content-Type']}; charset=bogus"}]
    for path in [*JSON_ENDPOINTS, *(p.rstrip("/") for p in JSON_ENDPOINTS)]:
        for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"):
            yield method, path, b"", loadtest
        for name, body in bodies.items():
            yield "POST", path, body, {**form, **loadtest}
        for headers in credentials:
            yield "POST", path, bodies["markup resource"], {**form, **headers}
        for headers in content_types:
            yield "POST", path, bodies["JSON"], {**headers, **loadtest}
        yield "GET", f"{path}?resource={MARKUP.replace(' ', '%20')}&x=" + "y" * 9000, b"", loadtest  # 414


@pytest.mark.e2e
def test_json_endpoints_never_answer_a_page_or_markup(stack, clients):
    """Wrong methods, bodies, content types, credentials, huge values: JSON, and no markup in it."""
    problems = []
    for method, target, body, headers in json_endpoint_cases(clients):
        time.sleep(0.015)  # under the test stack's rate limit (100 r/s): every answer is the endpoint's own
        status, answer_headers, answer = raw_request(stack, method, target, body, headers)
        content_type = answer_headers.get("Content-Type", "")
        case = f"{method} {target[:60]} {body[:40]!r} {list(headers.values())[-1][:30]!r} -> {status} {content_type}"
        if status >= 500 or status == 429:
            problems.append(case)
        elif answer or content_type:
            if content_type != "application/json" or b"<" in answer or b">" in answer:
                problems.append(f"{case} {answer[:80]!r}")
            elif status >= 400 and "error" not in json.loads(answer):
                problems.append(f"{case} {answer[:80]!r}")
        if status == 405 and not answer_headers.get("Allow"):
            problems.append(f"{case}: no Allow")
    assert not problems, "\n".join(problems)


@pytest.mark.e2e
def test_markup_in_a_token_request_is_not_echoed_as_html(stack, clients):
    r = requests.post(f"{stack.url}/o/token/", auth=clients["loadtest"],
                      data={"grant_type": "client_credentials", "resource": MARKUP})
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert r.json()["error"] == "invalid_target"
    assert "<" not in r.text and ">" not in r.text  # escaped: \u003c
    assert MARKUP in r.json()["error_description"]  # ... as JSON, the same text
