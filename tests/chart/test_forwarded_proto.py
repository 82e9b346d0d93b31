"""The scheme the apps see (X-Forwarded-Proto), through a real nginx with each stack's rendering of
nginx/templates/default.conf.template: behind the chart's TLS Ingress the controller's "https" is
passed on; everywhere else (the chart without TLS, Compose, the local stack) the scheme of nginx's
own connection is, whatever the client sends. And the chart's stub_status for its nginx exporter."""

import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from stack.local import LocalStack, Ports, free_port

from .conftest import ROOT, find

pytestmark = pytest.mark.skipif(not shutil.which("nginx"), reason="nginx (Debian package, `make dev`) is not installed")


class Echo(BaseHTTPRequestHandler):
    """An upstream answering with the X-Forwarded-Proto it received."""

    def do_GET(self):
        body = (self.headers.get("X-Forwarded-Proto") or "(none)").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def substitute(text: str, values: dict[str, str]) -> str:
    """The nginx image's envsubst step: ${NAME} for the names defined only."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def placeholders(text: str) -> set[str]:
    """${NAME}s left outside comments."""
    return set(re.findall(r"\$\{\w+\}", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))))


def seen_by_upstream(conf, port: int, sent: str | None, path: str = "/", status_port: int | None = None) -> str:
    """Run nginx with `conf` and ask for `path` on `port` (/ by default), sending X-Forwarded-Proto `sent`;
    the answer's status and body."""
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert nginx.poll() is None, nginx.stderr.read()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-Forwarded-Proto": sent} if sent else {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as error:
            return f"{error.code}"
        if status_port:
            with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/stub_status", timeout=5) as response:
                body += "\n" + response.read().decode()
        return body
    finally:
        nginx.terminate()
        nginx.wait(10)


def chart_nginx(objs, tmp_path, upstream: str) -> tuple:
    """The chart's nginx.conf and rendered template, as its pod would have them, on free ports."""
    config = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-nginx"))
    [container] = [c for c in find(objs, "Deployment", "nginx")["spec"]["template"]["spec"]["containers"] if c["name"] == "nginx"]
    port = free_port()
    env = {e["name"]: e["value"] for e in container["env"]}
    env |= {"NGINX_ADDRESS": "127.0.0.1", "NGINX_PORT": str(port), "AUTH_UPSTREAM": upstream, "API_UPSTREAM": upstream,
            "DEMO_UPSTREAM": upstream, "STATIC_ROOT": str(tmp_path / "static"), "NGINX_TLS_DIR": str(tmp_path / "tls")}
    for d in ("conf.d", "tls", "static", "tmp"):
        (tmp_path / d).mkdir()
    (tmp_path / "conf.d/default.conf").write_text(substitute(config["data"]["default.conf.template"], env))
    if "status.conf.template" in config["data"]:
        env["NGINX_STATUS_LISTEN"] = f"127.0.0.1:{free_port()}"
        (tmp_path / "conf.d/status.conf").write_text(substitute(config["data"]["status.conf.template"], env))
    (tmp_path / "env").write_text("\n".join(f"{k}={v}" for k, v in env.items()))
    main = (config["data"]["nginx.conf"].replace("/tmp/", f"{tmp_path}/tmp/")
            .replace("/etc/nginx/conf.d/", f"{tmp_path}/conf.d/").replace("listen 8081;", f"listen 127.0.0.1:{free_port()};"))
    (tmp_path / "nginx.conf").write_text(main)
    return tmp_path / "nginx.conf", port, env["NGINX_FORWARDED_PROTO"]


@pytest.mark.parametrize("sent, seen", [("https", "https"), ("http", "http"), (None, "http"), ("gopher", "http")])
def test_behind_the_tls_ingress_the_apps_see_the_controllers_scheme(objects, tmp_path, upstream, sent, seen):
    conf, port, value = chart_nginx(objects["bundled"], tmp_path, upstream)
    assert value == "$forwarded_proto"
    assert seen_by_upstream(conf, port, sent) == seen


@pytest.mark.parametrize("values", ["default", "external"])
def test_without_tls_at_the_ingress_nginx_passes_its_own_scheme(objects, tmp_path, upstream, values):
    conf, port, value = chart_nginx(objects[values], tmp_path, upstream)
    assert value == "$scheme"
    assert seen_by_upstream(conf, port, "https") == "http"


def test_compose_passes_nginx_own_scheme(tmp_path, upstream):
    """Compose's value ($$ is Compose's escape for a literal $) renders today's line."""
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["nginx"]["environment"]
    assert raw["NGINX_FORWARDED_PROTO"] == "$$scheme"
    port = free_port()
    env = {k: str(v).replace("$$", "$") for k, v in raw.items() if "${" not in str(v)}
    env |= {"NGINX_ADDRESS": "127.0.0.1", "NGINX_PORT": str(port), "AUTH_UPSTREAM": upstream, "API_UPSTREAM": upstream,
            "DEMO_UPSTREAM": upstream, "STATIC_ROOT": str(tmp_path), "NGINX_ACCESS_LOG": "off",
            "NGINX_TLS_DIR": str(tmp_path / "tls"), "AUTH_RATE_LIMIT": "20r/s", "AUTH_RATE_BURST": "40",
            "SIGN_IN_RATE_LIMIT": "10r/m", "SIGN_IN_RATE_BURST": "10"}
    (tmp_path / "tls").mkdir()
    rendered = substitute((ROOT / "nginx/templates/default.conf.template").read_text(), env)
    assert "    proxy_set_header X-Forwarded-Proto $scheme;\n" in rendered
    assert not placeholders(rendered)
    (tmp_path / "default.conf").write_text(rendered.replace("access_log off json;", "access_log off;"))
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
                                         f"http {{ include {tmp_path}/default.conf; }}\n")
    assert seen_by_upstream(tmp_path / "nginx.conf", port, "https") == "http"


def test_the_local_stack_passes_nginx_own_scheme(tmp_path, upstream):
    ports = Ports.free()
    ports.demo = int(upstream.rsplit(":", 1)[1])
    stack = LocalStack(state=tmp_path / "state", env={}, ports=ports)
    for d in ("logs", "run"):
        (stack.state / d).mkdir(parents=True)
    conf = stack.render_nginx()
    rendered = (conf.parent / "conf.d/default.conf").read_text()
    assert "    proxy_set_header X-Forwarded-Proto $scheme;\n" in rendered
    assert not placeholders(rendered)
    assert seen_by_upstream(conf, ports.public, "https") == "http"


def test_the_chart_nginx_serves_stub_status_to_its_exporter_only(objects, tmp_path, upstream):
    """With metrics.nginxExporter (ci/bundled-values.yaml) nginx serves stub_status on the status
    address, the exporter's SCRAPE_URI; the public port answers 404 there."""
    conf, port, _ = chart_nginx(objects["bundled"], tmp_path, upstream)
    env = dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines())
    status_port = int(env["NGINX_STATUS_LISTEN"].rsplit(":", 1)[1])
    answer = seen_by_upstream(conf, port, None, status_port=status_port)
    assert answer.startswith("http\n") and "Active connections:" in answer
    assert seen_by_upstream(conf, port, None, path="/stub_status") == "404"
