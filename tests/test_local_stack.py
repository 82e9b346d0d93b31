"""`make up` on local processes: idempotent, and the data survives `make down` + `make up`.

Uses a stack of its own (temporary directory, free ports), as `make up` would with `.state/`.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
import redis
import requests

from stack.envfile import generated_values
from stack.local import LocalStack, Ports
from stack import flows


@pytest.fixture
def own_stack(stack):
    if not isinstance(stack, LocalStack):
        pytest.skip("starts local processes")
    ports = Ports.free()
    state = Path(tempfile.mkdtemp(prefix="oauth-test-updown-"))
    local = LocalStack(state, generated_values(ports.public), ports)
    try:
        yield local
    finally:
        local.down()
        shutil.rmtree(state, ignore_errors=True)


def test_up_is_idempotent_and_data_survives_down_and_up(own_stack):
    s = own_stack
    s.up()
    session = flows.login(s.url, s.env["DEMO_USERNAME"], s.env["DEMO_PASSWORD"])
    tokens = flows.authorization_code_tokens(s.url, session, flows.demo_client(s), scope="openid read write")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    post = requests.post(f"{s.url}/api/posts/", json={"title": "Kept", "body": "across restarts"}, headers=bearer)
    assert post.status_code == 201, post.text
    jwks = requests.get(f"{s.url}/o/.well-known/jwks.json").json()

    s.up()  # a second `make up` while running changes nothing
    assert all(s.status().values()), s.status()

    s.down()
    assert not any(s.status().values()), s.status()
    s.up()

    listed = requests.get(f"{s.url}/api/posts/", headers=bearer)
    assert listed.status_code == 200, "the access token (stored in Postgres) still works"
    assert post.json()["id"] in [p["id"] for p in listed.json()["items"]]
    assert requests.get(f"{s.url}/o/.well-known/jwks.json").json() == jwks, "the OIDC key was kept"
    again = flows.login(s.url, s.env["DEMO_USERNAME"], s.env["DEMO_PASSWORD"])
    assert flows.authorization_code_tokens(s.url, again, flows.demo_client(s))["access_token"]


def test_redis_keeps_an_append_only_file_and_never_evicts(stack):
    """As in Compose (stack/wiring.yaml; tests/compose/test_redis.py)."""
    if not isinstance(stack, LocalStack):
        pytest.skip("the local stack's Redis")
    config = redis.Redis.from_url(stack.redis_url(), decode_responses=True).config_get("*")
    assert (config["appendonly"], config["maxmemory-policy"], config["save"]) == ("yes", "noeviction", "")
