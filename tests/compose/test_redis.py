"""Redis in Compose as on the local stack: users with passwords, the relay's copies and heartbeats."""

import hashlib

import requests

from stack import flows


def redis_cli(compose, *args: str, user: str = "default", secret: str = "redis_password") -> str:
    """redis-cli inside the redis container; the password comes from the container's secret file."""
    command = f'REDISCLI_AUTH="$(cat /run/secrets/{secret})" redis-cli --user "$0" "$@"'
    return compose.run("exec", "-T", "redis", "sh", "-c", command, user, *args, capture=True).strip()


def test_redis_wants_a_password_and_gives_each_service_only_its_part(compose):
    assert "NOAUTH" in compose.run("exec", "-T", "redis", "sh", "-c", "redis-cli GET x 2>&1 || true",
                                   capture=True)
    api = dict(user="resource_api", secret="redis_api_password")
    assert "NOPERM" in redis_cli(compose, "SET", "oauth2:revoked:x", "1", **api)
    assert "NOPERM" in redis_cli(compose, "PUBLISH", "oauth2:revocations:heartbeat", "1 1", **api)


def test_revocations_reach_redis_and_the_relay_heartbeats(compose):
    url, client = compose.url, flows.loadtest_client(compose)
    token = flows.client_credentials_token(url, client).json()["access_token"]
    assert requests.get(f"{url}/api/posts/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert requests.post(f"{url}/o/revoke_token/", data={"token": token}, auth=client.auth).status_code == 200
    assert requests.get(f"{url}/api/posts/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert redis_cli(compose, "EXISTS", f"oauth2:revoked:{digest}") == "1"
    # The epoch is written only by the relay, once it has copied every live revocation into this Redis.
    run_id = next(line.split(":", 1)[1] for line in redis_cli(compose, "INFO", "server").splitlines()
                  if line.startswith("run_id:"))
    assert redis_cli(compose, "GET", "oauth2:revocations:epoch") == run_id.strip()
    # Every API worker listens for heartbeats.
    assert int(redis_cli(compose, "PUBSUB", "NUMSUB", "oauth2:revocations:heartbeat").split()[-1]) >= 1


def test_redis_keeps_an_append_only_file_and_never_evicts(compose):
    """The options of stack/wiring.yaml, passed through redis/compose-entrypoint.sh (tests/test_wiring.py
    checks the local stack's command line; test_local_stack.py its running Redis)."""
    assert redis_cli(compose, "CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
    assert redis_cli(compose, "CONFIG", "GET", "maxmemory-policy").split() == ["maxmemory-policy", "noeviction"]
    assert redis_cli(compose, "CONFIG", "GET", "save").split() == ["save"]
