"""Logs leak nothing and stay parseable: no query strings in nginx's access log, no raw bytes beyond
ASCII in any JSON log line, whatever the requests held."""

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from stack.local import LocalStack
from stack import flows


@pytest.fixture(autouse=True)
def local_stack(stack):
    if not isinstance(stack, LocalStack):
        pytest.skip("reads the local stack's log files")


def send_raw(stack, target: bytes, agent: bytes, body: bytes = b"", method: bytes = b"GET"):
    """A request with raw bytes in its target and User-Agent, which http.client would refuse to send."""
    url = urlsplit(stack.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(b"%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\nConnection: close\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                           % (method, target, agent, len(body), body))
        while connection.recv(65536):
            pass


def written_since(path, start: int, lines: int = 0) -> bytes:
    """What was appended to the log after `start`, waiting up to 5 s for at least `lines` lines: nginx
    writes a request's line after sending its answer, so the client can read the answer first."""
    deadline = time.monotonic() + 5
    while True:
        with path.open("rb") as f:
            f.seek(start)
            written = f.read()
        if written.count(b"\n") >= lines or time.monotonic() > deadline:
            return written
        time.sleep(0.05)


def test_access_log_holds_no_query_string_and_only_ascii_json(stack):
    """Secrets sent in query strings never reach the log; bytes beyond ASCII don't break its lines."""
    log = stack.log("nginx-access")
    start = log.stat().st_size
    client = flows.loadtest_client(stack)
    secret_values = [client.client_secret, "query-access-token-1234", "query-code-5678", "query-refresh-9012"]
    secret_query = (f"client_id={client.client_id}&client_secret={client.client_secret}&access_token={secret_values[1]}"
                    f"&code={secret_values[2]}&refresh_token={secret_values[3]}&token={secret_values[1]}")
    for path in ["/o/token/", "/o/introspect/", "/o/userinfo/", "/o/authorize/", "/api/posts/", "/callback/",
                 "/accounts/login/"]:
        requests.get(f"{stack.url}{path}?{secret_query}", allow_redirects=False)
        requests.post(f"{stack.url}{path}?{secret_query}", allow_redirects=False)
    for target, agent in [(b"/o/token/?code=\xff\xfe" + secret_values[2].encode(), b"agent \xff\xfe\xc3\x28"),
                          (b"/api/\xc3\xa9t\xe9", "Zoë/1.0".encode()), (b"/\x7f", b"\x01\x1b[31m")]:
        send_raw(stack, target, agent)
    written = written_since(log, start, lines=17)
    lines = written.splitlines()
    assert len(lines) >= 17
    for line in lines:
        entry = json.loads(line.decode("ascii"))  # only ASCII, so valid UTF-8 too
        assert "?" not in entry["uri"][:-1], entry["uri"]  # the path, then at most a bare "?"
    for value in secret_values:
        assert value.encode() not in written
    assert b'"uri":"/o/token/?"' in written and b'"user_agent":"(not printable ASCII)"' in written


SERVICES = ("auth_server", "resource_api", "consumer_demo")


def test_service_logs_are_ascii_json_whatever_the_input(stack):
    """What the services log about odd input (paths, usernames, client ids) is escaped: every line
    is ASCII, and every structured line parses as JSON."""
    starts = {service: stack.log(service).stat().st_size for service in SERVICES}
    odd = b"\xff\xfe\xc3\x28 \xe2\x80\xae <h1>"
    send_raw(stack, b"/o/to%ffken/%c3%28?%ff", odd)
    send_raw(stack, b"/api/po%ffsts/%E2%80%AE", odd)
    send_raw(stack, b"/callback/?code=%ff&state=%c3%28", odd)
    send_raw(stack, b"/o/token/", odd, body=b"grant_type=client_credentials&client_id=\xff\xe9%ff%00", method=b"POST")
    send_raw(stack, b"/o/token/", odd, body=b"grant_type=client_credentials&client_id=z\xc3\xa9\xe2\x80\xae",
             method=b"POST")
    session = requests.Session()
    page = session.get(f"{stack.url}/accounts/login/")
    flows.submit_form(session, page, {"username": "ünïcode\u202e\udcff".encode("utf-8", "surrogateescape"),
                                      "password": "x"})
    for service in SERVICES:
        written = written_since(stack.log(service), starts[service])
        for line in written.splitlines():
            text = line.decode("ascii")  # raises on any byte beyond ASCII
            if text.startswith("{"):
                json.loads(text)
    auth_lines = written_since(stack.log("auth_server"), starts["auth_server"])
    assert b'"event": "client_authentication_failed"' in auth_lines and b'"event": "login_failed"' in auth_lines


# A request each service answers with a 4xx, and the line Django writes about it. Django writes that
# line after the middleware has returned, so only the request itself can tell its id.
FOUR_XX = {
    "auth_server": ("POST", "/o/token/", {"grant_type": "client_credentials", "client_id": "no-such-client",
                                          "client_secret": "x"}, 401, "Unauthorized: /o/token/"),
    "resource_api": ("GET", "/api/posts/", None, 401, "Unauthorized: /api/posts/"),
    "consumer_demo": ("GET", "/no-such-page/", None, 404, "Not Found: /no-such-page/"),
}


@pytest.mark.parametrize("service", SERVICES)
def test_4xx_log_lines_carry_the_request_id(stack, service):
    method, path, data, status, message = FOUR_XX[service]
    log = stack.log(service)
    start = log.stat().st_size
    response = requests.request(method, f"{stack.url}{path}", data=data, allow_redirects=False)
    assert response.status_code == status
    request_id = response.headers["X-Request-ID"]
    assert request_id != "-"
    deadline = time.monotonic() + 5
    while True:
        entries = [json.loads(line) for line in written_since(log, start).splitlines() if line.startswith(b"{")]
        logged = [entry for entry in entries if entry["message"] == message]
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logged, f"no {message!r} line in {service}'s log"
    assert logged[-1]["request_id"] == request_id
    assert logged[-1]["level"] == "warning" and logged[-1]["logger"] == "django.request"
