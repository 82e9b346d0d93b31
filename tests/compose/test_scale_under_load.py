"""Scaling the API up and back down under steady load: not one request fails."""

import threading
import time

import requests

from stack import flows


def test_scaling_the_api_up_and_down_fails_no_request(compose):
    url, client = compose.url, flows.loadtest_client(compose)
    token = flows.client_credentials_token(url, client).json()["access_token"]
    stop, outcomes, lock = threading.Event(), [], threading.Lock()

    def load():
        # A keepalive session, as a client of the API would hold.
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while not stop.is_set():
                try:
                    status = session.get(f"{url}/api/posts/", timeout=10).status_code
                except requests.RequestException as exc:
                    status = repr(exc)
                with lock:
                    outcomes.append(status)
                time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(4)]
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
