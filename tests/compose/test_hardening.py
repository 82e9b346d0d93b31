"""What `docker inspect` shows of every container of the stack: no secret in any environment, and
every container hardened (docker-compose.yml's x-hardening); and a second `make up` with nothing
changed leaves what serves alone."""

import pytest
import requests
from dotenv import dotenv_values

from stack.compose import MONITORING, ONE_SHOTS

EXPORTERS = MONITORING - {"prometheus"}


@pytest.fixture(scope="module")
def containers(compose) -> list[dict]:
    found = compose.containers()
    assert {c["Config"]["Labels"]["com.docker.compose.service"] for c in found} >= {
        "postgres", "redis", "nginx", "auth_server", "resource_api", "consumer_demo", "revocation_relay", "janitor",
        *ONE_SHOTS}
    return found


def service(container: dict) -> str:
    return container["Config"]["Labels"]["com.docker.compose.service"]


def test_no_container_shows_a_secret(compose, containers):
    # Every generated value of .env long enough to be a secret (usernames such as "demo" are not).
    secrets = {key: value for key, value in dotenv_values(compose.env_file).items()
               if value and len(value) >= 16 and key != "PUBLIC_URL"}
    assert {"POSTGRES_PASSWORD", "AUTH_DB_PASSWORD", "REDIS_API_PASSWORD", "API_CLIENT_SECRET"} <= secrets.keys()
    for c in containers:
        config = c["Config"]
        shown = "\n".join([*config["Env"], *(config["Cmd"] or []), *(config["Entrypoint"] or []),
                           *(config.get("Healthcheck") or {}).get("Test", [])])
        leaked = [key for key, value in secrets.items() if value in shown]
        assert not leaked, f"{service(c)} shows {leaked} in docker inspect"
        assert "://" not in "".join(v for v in c["Config"]["Env"] if "@" in v), f"{service(c)}: a URL with credentials"


def test_every_container_is_hardened(containers):
    for c in containers:
        name, host = service(c), c["HostConfig"]
        assert any(opt.startswith("no-new-privileges") and not opt.endswith(":false") for opt in host["SecurityOpt"] or []), name
        assert [cap.upper().removeprefix("CAP_") for cap in host["CapDrop"] or []] == ["ALL"], name
        added = {cap.upper().removeprefix("CAP_") for cap in host["CapAdd"] or []}
        assert added <= ({"CHOWN", "SETGID", "SETUID"} if name == "nginx" else set()), (name, added)
        assert host["ReadonlyRootfs"], f"{name}: the root filesystem is writable"
        assert host["Memory"] > 0 and host["NanoCpus"] > 0 and (host["PidsLimit"] or 0) > 0, f"{name}: no limits"
        assert host["LogConfig"]["Type"] == "json-file" and host["LogConfig"]["Config"].get("max-size"), name


def test_every_long_running_container_has_a_health_check_and_is_healthy(containers):
    for c in containers:
        if service(c) in ONE_SHOTS:
            assert c["State"]["Status"] == "exited" and c["State"]["ExitCode"] == 0, service(c)
            continue
        if service(c) in EXPORTERS:
            # Their official images hold no shell or HTTP client: Prometheus checks them, by scraping
            # (`up`, the TargetDown alert; tests/observability/test_prometheus_live.py).
            assert c["State"]["Status"] == "running", service(c)
            continue
        test = (c["Config"].get("Healthcheck") or {}).get("Test") or ["NONE"]
        assert test[0] != "NONE", f"{service(c)} has no health check"
        assert c["State"]["Health"]["Status"] == "healthy", (service(c), c["State"]["Health"]["Log"][-1:])


def test_up_again_with_nothing_changed_leaves_nginx_and_the_static_files_alone(compose):
    css = f"{compose.url}/static/auth_server/oauth/site.css"
    before = requests.get(css)
    assert before.status_code == 200
    workers = compose.run("exec", "-T", "nginx", "sh", "-c", "cat /proc/[0-9]*/stat | grep '(nginx)' | cut -d' ' -f1,22",
                          capture=True).split()
    containers = {c["Id"] for c in compose.containers() if service(c) not in ONE_SHOTS}
    compose.up(build=False)
    # Same containers, the same nginx processes (a reload would have started new workers), and a
    # static file untouched (collectstatic without --clear copies only what changed).
    assert {c["Id"] for c in compose.containers() if service(c) not in ONE_SHOTS} == containers
    assert compose.run("exec", "-T", "nginx", "sh", "-c", "cat /proc/[0-9]*/stat | grep '(nginx)' | cut -d' ' -f1,22",
                       capture=True).split() == workers
    after = requests.get(css)
    assert after.status_code == 200 and after.headers["Last-Modified"] == before.headers["Last-Modified"]
