"""The fault suite (`make test-faults`, also part of `make test`): each fault under steady mixed load.

For every fault: no acknowledged write lost, no revoked token accepted, no 5xx other than 503 with
`Retry-After`, no request left without an answer, and recovery (a token, a read and a write answered
successfully again) within RECOVERY seconds of the fault ending. The counts per status code are
printed at the end of the run (tests/faults/conftest.py) and kept in artifacts/faults.md.
Loopback only; each fault lasts FAULT seconds and every process is back before the next test.
"""

import contextlib
import shutil
import time

import psutil
import pytest
import redis
import requests

from tests.faults.conftest import RESULTS
from tests.faults.load import Load, bearer
from tests.resource_api.helpers import wait_until

FAULT = 4.0
STEADY = 2.0
RECOVERY = 20.0


def master(stack, service: str) -> psutil.Process:
    return psutil.Process(stack.pid(service))


def redis_process(stack) -> psutil.Process:
    return psutil.Process(stack.pid("redis"))


@contextlib.contextmanager
def redis_paused(stack):
    process = redis_process(stack)
    process.suspend()
    try:
        time.sleep(FAULT)
        yield
    finally:
        process.resume()


@contextlib.contextmanager
def redis_killed(stack):
    """SIGKILL: supervisord starts it again, from its append-only file."""
    redis_process(stack).kill()
    time.sleep(FAULT)
    yield


@contextlib.contextmanager
def redis_out_of_memory(stack):
    """Redis refuses every write (as when full, or when it cannot write its disk) but still reads and
    publishes."""
    admin = redis.Redis.from_url(stack.redis_url())
    admin.config_set("maxmemory", 1)
    try:
        time.sleep(FAULT)
        yield
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()


@contextlib.contextmanager
def redis_restarted_empty(stack):
    stack.stop_redis()
    shutil.rmtree(stack.state / "redis" / "appendonlydir", ignore_errors=True)
    try:
        time.sleep(FAULT)
        yield
    finally:
        stack.start_redis()


def cut_from_redis(which):
    """Every Redis connection of the processes `which(stack)` is closed by Redis as soon as it is
    seen, for FAULT s: a partition between them and Redis, while everyone else reaches it."""
    @contextlib.contextmanager
    def fault(stack):
        processes = which(stack)
        admin = redis.Redis.from_url(stack.redis_url())
        deadline = time.monotonic() + FAULT
        while time.monotonic() < deadline:
            for process in processes:
                for conn in process.net_connections(kind="tcp"):
                    if conn.raddr and conn.raddr.port == stack.ports.redis:
                        with contextlib.suppress(redis.ResponseError):
                            admin.client_kill(f"127.0.0.1:{conn.laddr.port}")
            time.sleep(0.02)
        admin.close()
        yield
    return fault


@contextlib.contextmanager
def auth_server_refused_by_redis(stack):
    """Redis refuses the auth server's user (markers, events, the relay's heartbeats all fail), while
    the API still reads its cache from it."""
    admin = redis.Redis.from_url(stack.redis_url())
    admin.acl_setuser("auth_server", enabled=False)
    admin.client_kill_filter(user="auth_server")
    try:
        time.sleep(FAULT)
        yield
    finally:
        admin.acl_setuser("auth_server", enabled=True)
        admin.close()


@contextlib.contextmanager
def postgres_stopped(stack):
    stack.stop_postgres()
    try:
        time.sleep(FAULT)
        yield
    finally:
        stack.start_postgres()


@contextlib.contextmanager
def postgres_crashed(stack):
    stack.stop_postgres(mode="immediate")
    try:
        time.sleep(FAULT)
        yield
    finally:
        stack.start_postgres()


def killed(service: str, which: str):
    @contextlib.contextmanager
    def fault(stack):
        process = master(stack, service)
        victim = process if which == "master" else process.children()[0]
        victim.kill()
        time.sleep(FAULT)
        yield
    return fault


FAULTS = {
    "Redis paused (SIGSTOP)": redis_paused,
    "Redis killed (restarted from its file)": redis_killed,
    "Redis restarted empty": redis_restarted_empty,
    "Redis refusing writes (out of memory)": redis_out_of_memory,
    "one API worker's Redis connections cut": cut_from_redis(
        lambda stack: master(stack, "resource_api").children()[:1]),
    "Redis refuses the auth server (publish fails)": auth_server_refused_by_redis,
    "Postgres stopped": postgres_stopped,
    "Postgres crashed (immediate)": postgres_crashed,
    "auth_server worker killed": killed("auth_server", "worker"),
    "auth_server master killed": killed("auth_server", "master"),
    "resource_api worker killed": killed("resource_api", "worker"),
    "resource_api master killed": killed("resource_api", "master"),
}


# The faults that SIGKILL a process while it serves requests.
SERVICE_PROCESS_KILLED = {name for name in FAULTS if name.endswith(("worker killed", "master killed"))}


def read_back(stack, post_id: int, headers: dict) -> int:
    """The status of reading one post; a 503 (still recovering) is asked again for a while."""
    deadline = time.monotonic() + RECOVERY
    while True:
        status = requests.get(f"{stack.url}/api/posts/{post_id}/", headers=headers, timeout=10).status_code
        if status != 503 or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@pytest.mark.parametrize("name", FAULTS)
def test_fault_under_load(name, stack, user_tokens):
    read_tokens = [user_tokens()["access_token"] for _ in range(6)]
    spare_tokens = [user_tokens("read")["access_token"] for _ in range(40)]
    # For reading the posts back afterwards: got now, as the load keeps the token endpoint's rate limit busy.
    check = bearer(user_tokens("read")["access_token"])
    # Cached as active before anything fails: the cache is what a lost revocation would leave behind.
    for token in spare_tokens:
        assert requests.get(f"{stack.url}/api/posts/?page_size=1", headers=bearer(token), timeout=10).ok
    with Load(stack, read_tokens, spare_tokens) as load:
        time.sleep(STEADY)
        if name in SERVICE_PROCESS_KILLED:
            load.killed_at = time.monotonic()
        with FAULTS[name](stack):
            pass
        ended = time.monotonic()
        recovered = wait_until(lambda: load.succeeded_since(ended), timeout=RECOVERY)
        recovery = time.monotonic() - ended
        time.sleep(STEADY)
    if recovered:
        # Every post answered 201 is there, read back once the stack has recovered.
        load.lost = [post_id for post_id in load.acknowledged if read_back(stack, post_id, check) != 200]
    RESULTS.append((name, load, recovery if recovered else None))

    assert recovered, f"no successful token, read and write within {RECOVERY} s of the fault's end"
    assert not load.violations, load.violations[:10]
    assert load.acknowledged and load.revoked, "the load did too little to prove anything"
    assert not load.lost, f"{len(load.lost)} of {len(load.acknowledged)} acknowledged posts not found: {load.lost[:10]}"
