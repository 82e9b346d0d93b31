"""The chart reads the wiring declaration (stack/wiring.yaml) through files/wiring.yaml, a link to
it, as it reads nginx's template, Redis's users and Postgres's first-start script: one copy of each.
The rendered objects say what stack/wiring.py renders: the same services, environment variable
names and values, ports, probe paths, set-up and workers."""

import os
import re
import shlex
import subprocess
import sys
import tarfile

import pytest
import yaml

from stack import wiring

from .conftest import CHART, ROOT, VALUES, find, helm, pod_specs

LINKS = {"wiring.yaml": "stack/wiring.yaml", "default.conf.template": "nginx/templates/default.conf.template",
         "users.acl.template": "redis/users.acl.template", "redis-entrypoint.sh": "redis/compose-entrypoint.sh",
         "10-databases.sh": "docker/postgres/initdb.d/10-databases.sh",
         "status.conf.template": "nginx/templates/status.conf.template"}
# Set for the process, not the application: gunicorn's address and worker count.
PROCESS_KEYS = {"GUNICORN_BIND", "GUNICORN_WORKERS"}


@pytest.mark.parametrize("name", LINKS)
def test_chart_files_are_the_repositorys(name):
    link = CHART / "files" / name
    assert link.is_symlink() and link.resolve() == (ROOT / LINKS[name]).resolve()


def test_packaged_chart_carries_the_files_themselves(tools, tmp_path):
    helm(tools, "package", str(CHART), "--destination", str(tmp_path))
    [package] = tmp_path.glob("oauth-stack-*.tgz")
    with tarfile.open(package) as tar:
        for name, source in LINKS.items():
            assert tar.extractfile(f"oauth-stack/files/{name}").read() == (ROOT / source).read_bytes()


def places(objs, service: str, public_url: str) -> dict[str, str]:
    """The cluster's {place}s, from the rendered Services."""
    hosts = {o["metadata"]["labels"]["app.kubernetes.io/component"]: o["metadata"]["name"]
             for o in objs if o["kind"] == "Service"}
    found = {name: f"{hosts[name]}:{spec['port']}" for name, spec in wiring.SERVICES.items()}
    host = public_url.split("://")[1].split(":")[0].split("/")[0]
    return {**found, "postgres": f"{hosts.get('postgres', 'oauth-oauth-stack-postgres')}:5432",
            "redis": f"{hosts.get('redis', 'oauth-oauth-stack-redis')}:6379", "static": "/srv/static",
            "oidc": "/var/lib/oidc", "hosts": ",".join(dict.fromkeys([host, hosts[service], "localhost"])),
            "metrics": f"0.0.0.0:{wiring.SERVICES[service]['metrics_port']}"}


def check_env(env: list[dict], declared: dict[str, str], place: dict[str, str], config: dict[str, str], bundled: set[str]):
    """Each declared variable is set as the wiring says: plain values as stack/wiring.py renders
    them, a bare secret ${NAME} from the Secret key NAME, an external connection URL from the
    external Secret, a bundled one composed by Kubernetes from its password ($(NAME))."""
    got = {e["name"]: e for e in env}
    passwords = set(got) - set(declared) - PROCESS_KEYS
    for name, template in declared.items():
        entry = got[name]
        connection = "{postgres}" in template or "{redis}" in template
        if connection and not any(f"{{{s}}}" in template for s in bundled):
            assert entry["valueFrom"]["secretKeyRef"]["key"].endswith(f".{name}")
        elif connection:
            rendered = wiring.render(template, place, {n: f"$({n})" for n in passwords})
            assert entry["value"] == rendered, name
        elif "valueFrom" in entry:
            assert template == "${%s}" % entry["valueFrom"]["secretKeyRef"]["key"], name
        else:
            assert entry["value"] == wiring.render(template, place, config), name
    # Nothing else but the process's own settings and the passwords of bundled servers.
    assert all(got[p]["valueFrom"]["secretKeyRef"]["key"] == p for p in passwords)


def chart_values(values):
    base = yaml.safe_load((CHART / "values.yaml").read_text())
    extra = yaml.safe_load(VALUES[values].read_text()) if VALUES[values] else {}
    return {**base, **extra}


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("service", wiring.SERVICES)
def test_service_is_wired_as_declared(objects, values, service):
    objs = objects[values]
    v = chart_values(values)
    config = {**v["config"], "PUBLIC_URL": v["publicUrl"].rstrip("/")}
    bundled = {s for s in ("postgres", "redis") if v.get(s, {}).get("bundled")}
    spec = wiring.SERVICES[service]
    place = places(objs, service, v["publicUrl"])

    deployment = find(objs, "Deployment", service)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": spec["port"]},
                                  {"name": "metrics", "containerPort": spec["metrics_port"]}]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(spec["metrics_port"]),
                           "prometheus.io/path": "/metrics"}
    assert container["readinessProbe"]["httpGet"]["path"] == spec["health"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"][-1] == spec["wsgi"]
    check_env(container["env"], {**wiring.WIRING["env"], **spec["env"]}, place, config, bundled)
    assert {e["name"] for e in container["env"]} >= set(wiring.service_env(service, place))

    svc = find(objs, "Service", service)
    assert svc["metadata"]["name"].endswith("-" + spec["host"]) and svc["spec"]["ports"][0]["port"] == spec["port"]
    assert {"name": "metrics", "port": spec["metrics_port"], "targetPort": "metrics"} in svc["spec"]["ports"]

    job = find(objs, "Job", f"{service}-bootstrap")
    [setup] = job["spec"]["template"]["spec"]["containers"]
    assert setup["args"] == ["python", "manage.py", "bootstrap"] and setup["image"] == container["image"]
    check_env(setup["env"], {**wiring.WIRING["env"], **spec["env"], **spec.get("bootstrap_env", {})}, place, config, bundled)


@pytest.mark.parametrize("values", VALUES)
def test_workers_run_as_declared(objects, values):
    objs = objects[values]
    relay = wiring.WORKERS["revocation_relay"]
    [container] = find(objs, "Deployment", "revocation_relay")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == relay["command"]
    assert {e["name"] for e in container["env"]} >= set(wiring.worker_env("revocation_relay", places(objs, relay["service"], chart_values(values)["publicUrl"])))
    janitor = find(objs, "CronJob", "janitor")
    [container] = janitor["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    # One pass of the declared loop.
    assert shlex.join(container["args"]) in wiring.WORKERS["janitor"]["command"][-1]
    assert {e["name"] for e in container["env"]} >= set(wiring.WORKERS["janitor"].get("env", {}))


def test_bundled_redis_runs_with_the_declared_options(objects):
    [container] = find(objects["bundled"], "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == wiring.REDIS_ARGS


def test_nginx_gets_every_value_its_template_names(objects):
    lines = (ROOT / LINKS["default.conf.template"]).read_text().splitlines()
    names = set(re.findall(r"\$\{(\w+)\}", "\n".join(l for l in lines if not l.lstrip().startswith("#"))))
    [container] = find(objects["default"], "Deployment", "nginx")["spec"]["template"]["spec"]["containers"]
    assert names == {e["name"] for e in container["env"]}


@pytest.mark.parametrize("service", wiring.SERVICES)
def test_nginx_collects_static_files_without_credentials(objects, service, tmp_path):
    """The init container's environment loads the service's settings: collectstatic runs with it
    here (as the image would), and it holds no secret."""
    spec = find(objects["default"], "Deployment", "nginx")["spec"]["template"]["spec"]
    [init] = [c for c in spec["initContainers"] if c["name"] == "static-" + service.replace("_", "-")]
    assert all("value" in e for e in init["env"])
    env = {e["name"]: e["value"] for e in init["env"]}
    env["STATIC_ROOT"] = str(tmp_path / service)
    result = subprocess.run([sys.executable, *init["command"][1:]], cwd=ROOT / service, capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], **env})
    assert result.returncode == 0, result.stderr[-2000:]
    if service == "auth_server":
        assert (tmp_path / service / "oauth/site.css").is_file()
