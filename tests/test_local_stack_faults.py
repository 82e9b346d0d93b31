"""The local stack under faults and from other local accounts: acknowledged writes survive a crash of
Postgres, Postgres wants a password from everyone, nginx listens on the loopback interface only, and
a crashed process is restarted by the supervisor.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from stack.envfile import generated_values
from stack.local import LocalStack, Ports, http_ok, postgres_bin, run
from stack import flows


@pytest.fixture
def local_stack(stack) -> LocalStack:
    if not isinstance(stack, LocalStack):
        pytest.skip("needs the local stack's processes")
    return stack


def psql(stack: LocalStack, *args: str, user: str | None = None, password: str | None = None, host: str | None = None):
    """psql against the stack's Postgres, as another OS user if given; returns the finished process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password:
        env["PGPASSWORD"] = password
    cmd = ["psql", "-h", host or str(stack.state / "postgres-socket"), "-p", str(stack.ports.postgres),
           "-U", "postgres", "-d", "postgres", "-w", "-tAq", *args]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, cwd="/")


# ---- durability -------------------------------------------------------------------------------

def test_acknowledged_posts_and_tokens_survive_a_postgres_crash(local_stack):
    """Writes go on while Postgres is stopped without a shutdown checkpoint, as in a crash."""
    s = local_stack
    session = flows.login(s.url, s.env["DEMO_USERNAME"], s.env["DEMO_PASSWORD"])
    bearer = {"Authorization": "Bearer " + flows.authorization_code_tokens(
        s.url, session, flows.demo_client(s), scope="read write")["access_token"]}
    posts, tokens = [], []  # acknowledged: 201 with an id, 200 with an access token
    done = threading.Event()

    def write_posts():
        with requests.Session() as http:
            while not done.is_set():
                r = http.post(f"{s.url}/api/posts/", json={"title": "acknowledged", "body": ""}, headers=bearer)
                if r.status_code == 201:
                    posts.append(r.json()["id"])
                else:
                    time.sleep(0.05)

    def issue_tokens():
        while not done.is_set():
            r = flows.client_credentials_token(s.url, flows.loadtest_client(s))
            if r.status_code == 200:
                tokens.append(r.json()["access_token"])
            time.sleep(0.02)  # below the test stack's rate limit on /o/token/

    for _ in range(2):  # two crashes: a commit left unflushed in either one is caught
        done.clear()
        writers = [threading.Thread(target=write_posts) for _ in range(4)] + [threading.Thread(target=issue_tokens)]
        try:
            for t in writers:
                t.start()
            time.sleep(2)
            s.stop_postgres(mode="immediate")
            time.sleep(0.5)
        finally:
            done.set()
            for t in writers:
                t.join()
            s.start_postgres()
    assert len(posts) > 100 and len(tokens) > 20, (len(posts), len(tokens))

    def post_kept(post_id: int) -> bool:
        for _ in range(50):  # the first requests after the restart may still find the database away
            r = requests.get(f"{s.url}/api/posts/{post_id}/", headers=bearer)
            if r.status_code != 503:
                return r.status_code == 200
            time.sleep(0.2)
        raise AssertionError("the posts API did not recover")

    lost_posts = [p for p in posts if not post_kept(p)]
    api_client = (s.env["API_CLIENT_ID"], s.env["API_CLIENT_SECRET"])
    inactive = [t for t in tokens if not requests.post(f"{s.service_url('auth_server')}/o/introspect/",
                                                       data={"token": t}, auth=api_client).json()["active"]]
    assert not lost_posts, f"{len(lost_posts)} of {len(posts)} acknowledged posts are gone"
    assert not inactive, f"{len(inactive)} of {len(tokens)} issued tokens are inactive"


# ---- Postgres authentication ----------------------------------------------------------------------

def test_postgres_wants_a_password_from_everyone(local_stack):
    s = local_stack
    sock = s.state / "postgres-socket"
    assert sock.stat().st_mode & 0o777 == 0o700
    # Another local account cannot reach the socket, let alone connect as the superuser.
    nobody = psql(s, "-c", "SELECT 1", user="nobody")
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr, nobody.stderr
    # Whoever reaches the socket or the TCP port still needs the password: none is trusted.
    for host in (str(sock), "127.0.0.1"):
        without = psql(s, "-c", "SELECT 1", host=host)
        assert without.returncode != 0 and "password" in without.stderr, (host, without.stderr)
        assert psql(s, "-c", "SELECT 1", host=host, password="wrong").returncode != 0
        with_password = psql(s, "-c", "SELECT 1", host=host, password=s.env["POSTGRES_PASSWORD"])
        assert with_password.stdout.strip() == "1", with_password.stderr
    # The services use their own roles' passwords and still work.
    assert http_ok(f"{s.service_url('auth_server')}/readyz") and http_ok(f"{s.service_url('resource_api')}/readyz")
    assert requests.get(f"{s.url}/api/public/").status_code == 200


def test_a_cluster_that_trusted_the_socket_is_upgraded_with_its_data(local_stack):
    """A state directory set up by the earlier local stack (initdb --auth-local=trust) on `make up`."""
    ports = Ports.free()
    state = Path(tempfile.mkdtemp(prefix="oauth-test-trust-"))
    old = LocalStack(state, generated_values(ports.public), ports)
    data, sock = state / "postgres", state / "postgres-socket"
    try:
        state.chmod(0o755)
        for path in (data, sock):
            path.mkdir()
            if os.geteuid() == 0:
                shutil.chown(path, "postgres", "postgres")
        sock.chmod(0o777)
        run(old._as_postgres([postgres_bin("initdb"), "-D", str(data), "-U", "postgres",
                              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]))
        run(old._as_postgres([postgres_bin("pg_ctl"), "-D", str(data), "-l", str(data / "start.log"), "-w", "-o",
                              f"-p {ports.postgres} -k {sock} -c listen_addresses=127.0.0.1", "start"]))
        created = psql(old, "-c", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the upgrade')")
        assert created.returncode == 0, created.stderr
        old.stop_postgres()

        (state / "logs").mkdir()
        old.start_postgres()  # what `make up` does first

        assert psql(old, "-c", "SELECT 1").returncode != 0, "the socket still trusts"
        assert psql(old, "-c", "SELECT 1", user="nobody").returncode != 0
        kept = psql(old, "-c", "SELECT v FROM kept", password=old.env["POSTGRES_PASSWORD"])
        assert kept.stdout.strip() == "before the upgrade", kept.stderr
        old.stop_postgres()
        old.start_postgres()  # and again: the upgraded cluster starts as any other
    finally:
        old.stop_postgres()
        shutil.rmtree(state, ignore_errors=True)


# ---- nginx ------------------------------------------------------------------------------------

def test_nginx_listens_on_the_loopback_interface_only(local_stack):
    master = psutil.Process(local_stack.pid("nginx"))
    listening = [c.laddr for p in (master, *master.children()) for c in p.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN]
    # The public port, HTTPS when the stack has a certificate, and stub_status for the exporter
    # (nginx/templates/status.conf.template).
    expected = {local_stack.ports.public, local_stack.ports.nginx_status} | (
        {local_stack.ports.tls} if local_stack.tls_certs else set())
    assert listening and {a.port for a in listening} == expected, listening
    assert {a.ip for a in listening} == {"127.0.0.1"}, listening


# ---- supervision --------------------------------------------------------------------------------

RESTART_WITHIN = 30  # seconds: supervisord restarts at once; gunicorn needs a few seconds to boot


@pytest.mark.parametrize("service, through_nginx", [
    ("auth_server", "/o/.well-known/openid-configuration"),
    ("resource_api", "/api/public/"),
])
def test_a_killed_gunicorn_master_is_restarted(local_stack, service, through_nginx):
    s = local_stack
    killed = s.pid(service)
    os.kill(killed, signal.SIGKILL)

    def serving_again() -> bool:
        pid = s.pid(service)
        return (pid not in (0, killed) and bool(psutil.Process(pid).children())
                and http_ok(f"{s.service_url(service)}/readyz") and http_ok(f"{s.url}{through_nginx}"))

    deadline = time.monotonic() + RESTART_WITHIN
    try:
        while not serving_again():
            assert time.monotonic() < deadline, f"{service} was not restarted within {RESTART_WITHIN} s"
            time.sleep(0.2)
    finally:
        s.start_service(service)  # only if the assertion failed: leave the session's stack whole
    assert not psutil.pid_exists(killed)
