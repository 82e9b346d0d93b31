"""The exporters' accounts on the local stack: statistics only, and their passwords on no command
line and in no log (Compose gives them the same accounts: observability/postgres/monitoring.sql,
redis/users.acl.template)."""

import os
import subprocess

import psutil
import pytest
import redis


def as_monitoring(stack, sql: str, db: str = "postgres") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(stack.ports.postgres), "-U", "monitoring", "-d", db,
         "-w", "-tAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={**os.environ, "PGPASSWORD": stack.env["POSTGRES_MONITORING_PASSWORD"]},
        capture_output=True, text=True)


def test_postgres_role_has_pg_monitor_and_nothing_else(stack):
    assert stack._psql("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit "
                       "FROM pg_roles WHERE rolname = 'monitoring'") == "f|f|f|f|f|5"
    assert stack._psql("SELECT string_agg(g.rolname, ',') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                       "JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'monitoring'") == "pg_monitor"
    # It reads the statistics views, every session included (what pg_monitor is for) ...
    done = as_monitoring(stack, "SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = 'auth'")
    assert done.stdout.strip() == "t", done.stderr
    # ... and no service's data.
    refused = as_monitoring(stack, "SELECT count(*) FROM django_migrations", db="auth")
    assert refused.returncode and "permission denied" in refused.stderr, refused


def test_redis_user_reads_statistics_and_no_key(stack):
    client = redis.Redis(host="127.0.0.1", port=stack.ports.redis, username="monitoring",
                         password=stack.env["REDIS_MONITORING_PASSWORD"])
    try:
        assert client.info("server")["redis_version"]
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        for refused in (lambda: client.get("oauth2:anything"), lambda: client.set("x", "1"),
                        lambda: client.publish("oauth2:revocations", "x"), lambda: client.flushall(),
                        lambda: client.config_set("maxmemory-policy", "allkeys-lru")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()
    finally:
        client.close()


def test_passwords_are_on_no_command_line_and_in_no_log(stack):
    secrets = [stack.env["POSTGRES_MONITORING_PASSWORD"], stack.env["REDIS_MONITORING_PASSWORD"]]
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        assert not any(secret in cmdline for secret in secrets), process
    for log in (stack.state / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        assert not any(secret in text for secret in secrets), log
