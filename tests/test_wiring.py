"""The wiring is declared once (stack/wiring.yaml): the local stack runs what it renders, and
docker-compose.yml says exactly the same. In-process, in about a second: no stack is started."""

import re
import subprocess
import sys

import pytest
import yaml
from dotenv import dotenv_values

from stack import wiring
from stack.compose import MONITORING, ONE_SHOTS, ComposeStack, places, secret_files
from stack.envfile import ensure_env_file, generated_values
from stack.local import ROOT, LocalStack, Ports

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
# What the local stack sets for running as a process; the containers' images set their own.
PROCESS_KEYS = {"GUNICORN_BIND", "PYTHONUNBUFFERED", "DJANGO_SETTINGS_MODULE", "PATH"}
BOOTSTRAP = ["python", "manage.py", "bootstrap"]


def compose_value(value: str, env: dict[str, str]) -> str:
    """What Compose makes of a value in docker-compose.yml: $$ is $; ${NAME}, ${NAME:-default}, ${NAME:?error}."""
    def field(match: re.Match) -> str:
        name, op, arg = match.groups()
        if name is None:
            return "$"
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        raise KeyError(f"Compose would stop: {name} is unset ({arg})")
    return re.sub(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", field, value)


def compose_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """A container's environment as its process reads it: NAME_FILE=/run/secrets/<secret> is NAME
    with the content `make up` writes for that secret, which must be one the container mounts."""
    files, mounted = secret_files(env), COMPOSE[name].get("secrets", [])
    resolved = {}
    for key, value in COMPOSE[name]["environment"].items():
        if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
            secret = value.removeprefix("/run/secrets/")
            assert secret in mounted, f"{name}: {key} names {value}, a secret it does not mount"
            resolved[key.removesuffix("_FILE")] = files[secret]
        else:
            resolved[key] = compose_value(str(value), env)
    assert len(mounted) == len([v for v in COMPOSE[name]["environment"].values() if str(v).startswith("/run/secrets/")]), \
        f"{name} mounts secrets it does not read"
    return resolved


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A fresh .env as `make up` writes it, and its values as both stacks read them."""
    return ensure_env_file(tmp_path / ".env")


@pytest.fixture
def local(tmp_path, env) -> LocalStack:
    return LocalStack(tmp_path / "state", env, Ports.free())


def test_compose_runs_the_declared_services_their_set_up_and_workers_and_nothing_else():
    declared = {*wiring.SERVICES, *ONE_SHOTS, *wiring.WORKERS}
    # Monitoring is not in the declaration: its wiring is its configuration (observability/); nor are
    # the profiles' extras (locust, Grafana).
    assert set(COMPOSE) - declared == {"postgres", "redis", "nginx", "locust", "grafana", *MONITORING}
    assert declared <= set(COMPOSE)


@pytest.mark.parametrize("service", wiring.SERVICES)
def test_compose_service_is_wired_as_declared(service, env):
    spec = wiring.SERVICES[service]
    assert compose_env(service, env) == wiring.service_env(service, places(service), env)
    assert COMPOSE[service]["networks"]["default"]["aliases"] == [spec["host"]]
    assert f"http://127.0.0.1:{spec['port']}{spec['health']}" in " ".join(COMPOSE[service]["healthcheck"]["test"])
    setup = COMPOSE[f"{service}_setup"]
    assert setup["command"] == BOOTSTRAP and setup["image"] == COMPOSE[service]["image"]
    assert compose_env(f"{service}_setup", env) == wiring.service_env(service, places(service), env, bootstrap=True)


@pytest.mark.parametrize("worker", wiring.WORKERS)
def test_compose_worker_is_wired_as_declared(worker, env):
    spec = wiring.WORKERS[worker]
    assert COMPOSE[worker]["image"] == COMPOSE[spec["service"]]["image"]
    assert [compose_value(arg, env) for arg in COMPOSE[worker]["command"]] == spec["command"]
    assert compose_env(worker, env) == wiring.worker_env(worker, places(spec["service"]), env)


@pytest.mark.parametrize("name", [name for name in COMPOSE if name != "locust"])
def test_no_container_gets_a_secret_in_its_environment(name, env):
    """Compose passes secrets as files (stack/compose.py); the environment holds none of .env's
    secrets, alone or inside a URL. (The locust profile is a load-test tool, not the stack.)"""
    environment = {key: compose_value(str(value), env) for key, value in COMPOSE[name].get("environment", {}).items()}
    secrets = {key: value for key, value in env.items() if len(value) >= 16 and key != "PUBLIC_URL"}
    assert "AUTH_DB_PASSWORD" in secrets and "DEMO_CLIENT_SECRET" in secrets
    for key, value in environment.items():
        assert not [s for s in secrets if secrets[s] in value], f"{name}'s {key} holds a secret"


def test_every_secret_compose_mounts_is_one_make_up_writes(env):
    declared = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["secrets"]
    assert set(declared) == set(secret_files(env))
    for name, spec in declared.items():
        assert spec["file"] == f"${{STACK_SECRETS_DIR:-./.state/compose/secrets}}/{name}"


def test_a_missing_secret_stops_make_up_naming_it(env):
    with pytest.raises(SystemExit, match="API_CLIENT_SECRET"):
        secret_files({**env, "API_CLIENT_SECRET": ""})
    with pytest.raises(SystemExit, match="REDIS_API_PASSWORD"):
        secret_files({k: v for k, v in env.items() if k != "REDIS_API_PASSWORD"})


def test_redis_runs_with_the_same_options_in_both_stacks(local):
    assert COMPOSE["redis"]["command"] == wiring.REDIS_ARGS
    assert local.programs()["redis"].argv[-len(wiring.REDIS_ARGS):] == wiring.REDIS_ARGS
    assert "--appendonly" in wiring.REDIS_ARGS and "noeviction" in wiring.REDIS_ARGS


@pytest.mark.parametrize("service", wiring.SERVICES)
def test_local_and_compose_give_a_service_the_same_environment_but_for_places(service, env, local):
    """Same keys; the same values except where the declaration names a place ({postgres}, {static}…)."""
    in_compose = compose_env(service, env)
    locally = local.programs()[service].env
    assert locally.keys() - PROCESS_KEYS == in_compose.keys()
    placed = {key for key, value in {**wiring.WIRING["env"], **wiring.SERVICES[service]["env"]}.items()
              if re.search(r"(?<!\$)\{\w+\}", value)}
    assert {key: locally[key] for key in in_compose.keys() - placed} == \
        {key: in_compose[key] for key in in_compose.keys() - placed}
    assert placed, "the test would compare nothing that differs"
    for key in placed:
        assert locally[key] == wiring.service_env(service, local.places(service), env)[key]


@pytest.mark.parametrize("worker", wiring.WORKERS)
def test_local_stack_runs_each_declared_worker_like_compose(worker, env, local):
    spec, program = wiring.WORKERS[worker], local.programs()[worker]
    command = [sys.executable if spec["command"][0] == "python" else spec["command"][0], *spec["command"][1:]]
    assert program.argv == command and program.cwd == ROOT / spec["service"]
    in_compose = compose_env(worker, env)
    assert program.env.keys() - PROCESS_KEYS == in_compose.keys()
    if "CLEARTOKENS_INTERVAL" in in_compose:
        assert program.env["CLEARTOKENS_INTERVAL"] == in_compose["CLEARTOKENS_INTERVAL"] == "3600"


def test_the_janitor_runs_in_both_stacks():
    assert "janitor" in wiring.WORKERS and "janitor" in COMPOSE
    assert "clear_expired" in " ".join(wiring.WORKERS["janitor"]["command"])


def test_bootstrap_holds_the_seed_secrets_and_the_server_does_not(env, local):
    server, bootstrap = local.service_settings("auth_server"), local.service_settings("auth_server", bootstrap=True)
    assert bootstrap["ADMIN_PASSWORD"] == env["ADMIN_PASSWORD"]
    assert not {key for key in server if key.startswith(("ADMIN_", "DEMO_", "LOADTEST_"))}


def test_public_port_in_env_file_moves_every_derived_url(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PUBLIC_PORT=8180\n")
    env = ensure_env_file(env_file)
    expected = "http://localhost:8180"
    local = LocalStack(tmp_path / "state", env, Ports(public=8180))
    assert local.url == expected
    compose = ComposeStack(env_file, command=["true"])
    seen_by_compose = {**dotenv_values(env_file), **compose.environ}
    for settings in (local.service_settings("consumer_demo"), compose_env("consumer_demo", seen_by_compose)):
        assert settings["PUBLIC_URL"] == expected
        assert settings["OAUTH_REDIRECT_URI"] == f"{expected}/callback/"
    # The seeded client is registered with the URI the demo sends.
    for settings in (local.service_settings("auth_server", bootstrap=True),
                     compose_env("auth_server_setup", seen_by_compose)):
        assert settings["DEMO_REDIRECT_URI"] == f"{expected}/callback/"
        assert settings["PUBLIC_URL"] == expected


def test_public_url_in_env_file_is_what_every_derived_url_names(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PUBLIC_PORT=8180\nPUBLIC_URL=https://oauth.example.test\n")
    env = ensure_env_file(env_file)
    local = LocalStack(tmp_path / "state", env, Ports(public=8180))
    assert local.service_settings("consumer_demo")["OAUTH_REDIRECT_URI"] == "https://oauth.example.test/callback/"
    assert local.service_settings("auth_server", bootstrap=True)["DEMO_REDIRECT_URI"] == \
        "https://oauth.example.test/callback/"
    assert ComposeStack(env_file, command=["true"]).url == "https://oauth.example.test"


def test_env_file_written_by_an_earlier_version_follows_its_port_again(tmp_path):
    """Earlier versions stored PUBLIC_URL and DEMO_REDIRECT_URI from the default port beside PUBLIC_PORT=8180."""
    old = {**generated_values(8180), "PUBLIC_URL": "http://localhost:8080",
           "DEMO_REDIRECT_URI": "http://localhost:8080/callback/"}
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in old.items()))
    env = ensure_env_file(env_file)
    assert env["PUBLIC_URL"] == "http://localhost:8180"
    assert "DEMO_REDIRECT_URI" not in dotenv_values(env_file) and "PUBLIC_URL" not in dotenv_values(env_file)
    assert env["DEMO_PASSWORD"] == old["DEMO_PASSWORD"], "the credentials are kept"

    # A PUBLIC_URL someone chose (here a TLS proxy) stays.
    env_file.write_text(f"PUBLIC_PORT=8180\nPUBLIC_URL=https://localhost:8443\n"
                        f"DEMO_REDIRECT_URI=https://localhost:8443/callback/\n")
    assert ensure_env_file(env_file)["PUBLIC_URL"] == "https://localhost:8443"


def test_new_env_file_stores_no_derived_url(tmp_path):
    ensure_env_file(tmp_path / ".env", public_port=8180)
    stored = dotenv_values(tmp_path / ".env")
    assert stored["PUBLIC_PORT"] == "8180"
    assert not {key for key, value in stored.items() if "://" in value}


def test_every_env_key_the_declaration_requires_is_generated():
    def strings(node):
        if isinstance(node, dict):
            return [s for value in node.values() for s in strings(value)]
        if isinstance(node, list):
            return [s for value in node for s in strings(value)]
        return [node] if isinstance(node, str) else []
    required = {name for value in strings(wiring.WIRING) for name in re.findall(r"\$\{(\w+)\}", value)}
    assert "DEMO_CLIENT_SECRET" in required
    assert required - {"PUBLIC_URL"} <= generated_values().keys()


def test_one_tls_configuration_serves_both_stacks(tmp_path, env):
    """The TLS settings live in the nginx template; each stack adds only where it listens and its
    certificate: the local stack from LocalStack.tls_certs, Compose from `make certs`' snippet,
    mounted as the include folder. nginx accepts the configuration either way, and without one."""
    state = tmp_path / "state"
    for folder in ("logs", "run"):
        (state / folder).mkdir(parents=True)
    certs = tmp_path / "certs"
    subprocess.run([ROOT / "docker/make-certs.sh", certs], check=True, capture_output=True)

    def nginx_accepts(conf):
        done = subprocess.run(["nginx", "-t", "-p", conf.parent, "-c", conf], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    local = LocalStack(state, env, Ports.free(), tls_certs=certs)
    nginx_accepts(local.render_nginx())
    snippet = (state / "nginx/tls/listen.conf").read_text()
    assert f"listen 127.0.0.1:{local.ports.tls} ssl;" in snippet
    assert f"ssl_certificate {certs.resolve()}/localhost.crt;" in snippet

    local.tls_certs = None
    nginx_accepts(local.render_nginx())
    assert list((state / "nginx/tls").iterdir()) == []

    # Compose's layout: the folder `make certs` writes, as /etc/nginx/tls beside the configuration.
    subprocess.run([ROOT / "docker/make-certs.sh", state / "nginx/tls"], check=True, capture_output=True)
    nginx_accepts(state / "nginx/nginx.conf")
    assert "listen 8443 ssl;" in (state / "nginx/tls/tls.conf").read_text()


@pytest.mark.parametrize("service", wiring.SERVICES)
def test_metrics_are_served_on_the_declared_port_and_never_published(service, env, local):
    port = wiring.SERVICES[service]["metrics_port"]
    assert compose_env(service, env)["METRICS_BIND"] == f"0.0.0.0:{port}"
    assert COMPOSE[service]["expose"] == [str(port)] and "ports" not in COMPOSE[service]
    assert local.programs()[service].env["METRICS_BIND"] == f"127.0.0.1:{local.metrics_port(service)}"
    assert len({local.metrics_port(s) for s in wiring.SERVICES} | {local.port(s) for s in wiring.SERVICES}) == 6


def test_grafana_profile_is_provisioned_from_the_repository(env):
    """Grafana (its profile) reads the dashboard and the data source this repository tests, its
    admin password from a secret file `make up` writes, and stays out of a plain `up`."""
    grafana = COMPOSE["grafana"]
    assert grafana["profiles"] == ["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./observability/grafana/provisioning"
    dashboards = yaml.safe_load((ROOT / "observability/grafana/provisioning/dashboards/oauth-stack.yml").read_text())
    folder = dashboards["providers"][0]["options"]["path"]
    assert mounts[f"{folder}/oauth-stack.json"] == "./observability/grafana/oauth-stack.json"
    assert (ROOT / "observability/grafana/oauth-stack.json").is_file()
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "grafana_admin_password" in secret_files(env)
    assert all(not str(v).startswith("${") for v in grafana["environment"].values())


def test_the_load_generator_reads_its_credentials_from_a_secret_file(env):
    """The locust profile's container environment holds no credential; its file has what the
    locustfile signs in with, in .env's format."""
    locust = COMPOSE["locust"]
    assert set(locust["environment"]) == {"PUBLIC_URL", "LOADTEST_ENV_FILE"}
    assert locust["environment"]["LOADTEST_ENV_FILE"] == "/run/secrets/locust_env" and locust["secrets"] == ["locust_env"]
    written = dict(line.split("=", 1) for line in secret_files(env)["locust_env"].splitlines())
    assert written["LOADTEST_CLIENT_SECRET"] == env["LOADTEST_CLIENT_SECRET"]
    assert {"LOADTEST_CLIENT_ID", "DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_USERNAME", "DEMO_PASSWORD"} <= written.keys()
