"""Scaling the API up and back down under steady load: not one request fails.

A scale ends with an nginx reload (nginx 1.22 resolves the replicas when it loads its
configuration), and a reload closes every idle keepalive connection of its clients. A request sent
on such a connection as it closes gets no answer at all, and HTTP clients retry it on a new
connection (RFC 9112 §9.3.1, for idempotent methods: browsers, Go, Java and okhttp do; `requests`
does not, so this client does it itself). Such a retry is counted apart and bounded: at most one per
client connection and reload; any other missing or non-200 answer fails the test.
"""

import http.client
import threading
import time

import requests
import urllib3

from stack import flows

CLIENTS, RELOADS = 4, 2


def closed_before_answer(exc: requests.RequestException) -> bool:
    """Whether a keepalive connection was closed under the request before any byte of an answer."""
    reason = exc.args[0] if exc.args else None
    if not isinstance(reason, urllib3.exceptions.ProtocolError) or len(reason.args) < 2:
        return False
    return isinstance(reason.args[1], (http.client.RemoteDisconnected, ConnectionResetError))


def test_scaling_the_api_up_and_down_fails_no_request(compose):
    url, client = compose.url, flows.loadtest_client(compose)
    token = flows.client_credentials_token(url, client).json()["access_token"]
    stop, outcomes, retried, lock = threading.Event(), [], [], threading.Lock()

    def load():
        # A keepalive session, as a client of the API would hold.
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while not stop.is_set():
                for attempt in (1, 2):
                    try:
                        status = session.get(f"{url}/api/posts/", timeout=10).status_code
                    except requests.RequestException as exc:
                        status = repr(exc)
                        if attempt == 1 and closed_before_answer(exc):
                            with lock:
                                retried.append(status)
                            continue
                    break
                with lock:
                    outcomes.append(status)
                time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        compose.scale({"resource_api": 3})
        assert len(compose.replica_addresses("resource_api", running=True)) == 3
        time.sleep(3)
        compose.scale({"resource_api": 1})
        assert len(compose.replica_addresses("resource_api", running=True)) == 1
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = [status for status in outcomes if status != 200]
    assert len(outcomes) > 200, "too little load to show anything"
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed: {sorted(set(map(str, failed)))}"
    assert len(retried) <= CLIENTS * RELOADS, f"{len(retried)} connections closed under a request: {retried[:3]}"
