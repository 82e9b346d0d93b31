"""docker/ensure-engine.sh and docker/engine-stop.sh with stand-ins for `docker` and `dockerd` on
PATH (no engine is started): the engine it starts is recorded, holds none of its caller's files
(a `flock` lock above all), and `make engine-stop` stops it and nothing else. In seconds."""

import os
import subprocess
import time

import pytest

from stack.local import ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ensure-engine.sh starts dockerd only as root")

FAKE_DOCKER = """#!/bin/sh
# `docker info` answers once the stand-in engine runs; `docker compose version` answers.
case "$1" in
  info) [ -e "$ENGINE_UP" ] ;;
  compose|version) exit 0 ;;
  *) exit 1 ;;
esac
"""
# Its process is named dockerd (a script's process takes the script's name).
FAKE_DOCKERD = """#!/bin/bash
touch "$ENGINE_UP"
trap 'rm -f "$ENGINE_UP"; exit 0' TERM
while :; do sleep 0.1; done
"""


@pytest.fixture
def sandbox(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"docker": FAKE_DOCKER, "dockerd": FAKE_DOCKERD}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ENGINE_UP": str(tmp_path / "up"),
           "DOCKERD_PIDFILE": str(tmp_path / "dockerd.pid"), "DOCKERD_LOG": str(tmp_path / "dockerd.log")}
    yield tmp_path, env
    if (tmp_path / "dockerd.pid").exists():
        subprocess.run([ROOT / "docker" / "engine-stop.sh"], env=env, capture_output=True)


def test_the_engine_it_starts_is_recorded_holds_no_lock_and_engine_stop_stops_it(sandbox):
    tmp, env = sandbox
    lock = tmp / "lock"
    started = subprocess.run(["flock", lock, ROOT / "docker" / "ensure-engine.sh"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    assert "starting dockerd" in started.stdout and "make engine-stop" in started.stdout
    pid = int((tmp / "dockerd.pid").read_text())
    assert open(f"/proc/{pid}/comm").read().strip() == "dockerd"
    # The caller's lock went with the caller: the engine does not hold it.
    assert subprocess.run(["flock", "--nonblock", lock, "true"]).returncode == 0
    held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert str(lock) not in held and not {path for path in held if "pipe:" in path}, held

    # An engine that answers is left as it is.
    again = subprocess.run([ROOT / "docker" / "ensure-engine.sh"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "starting" not in again.stdout

    stopped = subprocess.run([ROOT / "docker" / "engine-stop.sh"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
        assert time.monotonic() < deadline, "dockerd still runs"
        time.sleep(0.1)
    assert not (tmp / "dockerd.pid").exists()


def test_engine_stop_leaves_an_engine_it_did_not_start_alone(sandbox):
    tmp, env = sandbox
    other = subprocess.Popen(["sleep", "30"])
    try:
        (tmp / "dockerd.pid").write_text(str(other.pid))  # a PID file naming something else
        done = subprocess.run([ROOT / "docker" / "engine-stop.sh"], env=env, capture_output=True, text=True)
        assert done.returncode == 0 and "no engine started by this project" in done.stdout
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
