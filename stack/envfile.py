"""The git-ignored `.env`: generated secrets and the demo data the stack seeds.

Both stacks (local processes and Docker Compose) read the same file. It is created on the first
`make up`; keys added to the project later are appended to an existing file, never overwritten,
so credentials a user already has keep working.

It holds no derived values: PUBLIC_URL is `http://localhost:<PUBLIC_PORT>` unless set here (for
example to the https:// address of a TLS proxy), and every other URL users see is derived from it
where it is used (stack/wiring.yaml).
"""

import re
import secrets
from pathlib import Path

from dotenv import dotenv_values

DEFAULT_PUBLIC_PORT = 8080


def _secret(nbytes: int = 48) -> str:
    return secrets.token_urlsafe(nbytes)


def _client_secret() -> str:
    # 48 random bytes, 384 bits; seed_demo refuses one that looks weaker (docs/auth-server.md, "Client secrets").
    return secrets.token_urlsafe(48)


def _client_id() -> str:
    return secrets.token_urlsafe(24)


def public_url(env: dict[str, str]) -> str:
    """The URL users reach the stack at: PUBLIC_URL if .env sets it, else localhost on PUBLIC_PORT."""
    return (env.get("PUBLIC_URL") or f"http://localhost:{env.get('PUBLIC_PORT') or DEFAULT_PUBLIC_PORT}").rstrip("/")


def generated_values(public_port: int = DEFAULT_PUBLIC_PORT) -> dict[str, str]:
    """Fresh values for every key the stack needs, in the order they are written."""
    return {
        "PUBLIC_PORT": str(public_port),
        # Django signing keys, one per service.
        "AUTH_SECRET_KEY": _secret(),
        "API_SECRET_KEY": _secret(),
        "DEMO_SECRET_KEY": _secret(),
        # Database roles: one database and user for tokens, another for posts.
        "POSTGRES_PASSWORD": _secret(24),
        "AUTH_DB_PASSWORD": _secret(24),
        "POSTS_DB_PASSWORD": _secret(24),
        # Redis users (redis/users.acl.template): the operators' `default`, then one per service.
        "REDIS_PASSWORD": _secret(24),
        "REDIS_AUTH_PASSWORD": _secret(24),
        "REDIS_API_PASSWORD": _secret(24),
        "REDIS_DEMO_PASSWORD": _secret(24),
        # The exporters' accounts (docs/observability.md): Postgres's `monitoring` role (pg_monitor) and
        # Redis's `monitoring` user (redis/users.acl.template).
        "POSTGRES_MONITORING_PASSWORD": _secret(24),
        "REDIS_MONITORING_PASSWORD": _secret(24),
        # Grafana's `admin` (docker-compose.yml's `grafana` profile).
        "GRAFANA_ADMIN_PASSWORD": _secret(24),
        # The key of the API's token-cache MACs (resource_api/posts/token_cache.py).
        "API_TOKEN_CACHE_KEY": _secret(),
        # Seeded by `manage.py seed_demo` in auth_server.
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": _secret(12),
        "DEMO_USERNAME": "demo",
        "DEMO_PASSWORD": _secret(12),
        "DEMO_CLIENT_ID": _client_id(),
        "DEMO_CLIENT_SECRET": _client_secret(),
        "API_CLIENT_ID": _client_id(),
        "API_CLIENT_SECRET": _client_secret(),
        "LOADTEST_CLIENT_ID": _client_id(),
        "LOADTEST_CLIENT_SECRET": _client_secret(),
        # A public client (no secret): the consumer demo's device chapter.
        "DEVICE_CLIENT_ID": _client_id(),
    }


def ensure_env_file(path: Path, public_port: int = DEFAULT_PUBLIC_PORT) -> dict[str, str]:
    """Create `path` if absent, append any missing keys, and return its values with PUBLIC_URL resolved.

    `public_port` is for a new file; an existing one keeps its PUBLIC_PORT.
    """
    _drop_derived(path)
    existing = {k: v for k, v in dotenv_values(path).items() if v is not None} if path.exists() else {}
    missing = {k: v for k, v in generated_values(public_port).items() if k not in existing}
    if missing:
        header = "" if existing else "# Generated on first `make up`. Keep it out of git.\n"
        with path.open("a") as f:
            f.write(header + "".join(f"{k}={v}\n" for k, v in missing.items()))
        path.chmod(0o600)
    values = {**existing, **missing}
    return {**values, "PUBLIC_URL": public_url(values)}


def _drop_derived(path: Path):
    """Remove the URLs earlier versions wrote from the port of the time (DEMO_REDIRECT_URI, and a
    PUBLIC_URL of http://localhost:<port> beside it), so that PUBLIC_PORT decides them again."""
    if not path.exists():
        return
    values = dotenv_values(path)
    if "DEMO_REDIRECT_URI" not in values:
        return
    drop = {"DEMO_REDIRECT_URI"}
    if re.fullmatch(r"http://localhost:\d+/?", values.get("PUBLIC_URL") or ""):
        drop.add("PUBLIC_URL")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if line.split("=", 1)[0].strip() not in drop))
