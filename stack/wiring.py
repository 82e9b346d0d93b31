"""The stack's wiring (stack/wiring.yaml), rendered for one stack.

Each stack supplies its `places` (where Postgres, Redis and the services are reached, which host
names a service answers to, its directories) and, to render values in full, the values of .env.
stack/local.py renders everything; docker-compose.yml leaves ${NAME} to Compose, and
tests/test_wiring.py proves it says what this renders.
"""

import re
from pathlib import Path

import yaml

WIRING = yaml.safe_load(Path(__file__).with_name("wiring.yaml").read_text())
SERVICES: dict[str, dict] = WIRING["services"]
WORKERS: dict[str, dict] = WIRING["workers"]
REDIS_ARGS: list[str] = WIRING["redis"]["args"]

# ${NAME} or ${NAME:-default} (a key of .env), or {place}.
_FIELD = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\{(\w+)\}")


def render(value: str, places: dict[str, str], env: dict[str, str] | None = None) -> str:
    """Fill in {place}s, and with `env` the ${NAME}s too (as Compose would: a default when unset or empty)."""
    def field(match: re.Match) -> str:
        name, default, place = match.groups()
        if place:
            return places[place]
        if env is None:
            return match.group(0)
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise KeyError(f"{name} is missing from .env (run `make up` once to add it)")
    return _FIELD.sub(field, value)


def service_env(service: str, places: dict[str, str], env: dict[str, str] | None = None,
                bootstrap: bool = False) -> dict[str, str]:
    """The environment `service` is configured with; `bootstrap`: that of its `manage.py bootstrap`."""
    spec = SERVICES[service]
    declared = {**WIRING["env"], **spec["env"], **(spec.get("bootstrap_env", {}) if bootstrap else {})}
    return {key: render(value, places, env) for key, value in declared.items()}


def worker_env(worker: str, places: dict[str, str], env: dict[str, str] | None = None) -> dict[str, str]:
    spec = WORKERS[worker]
    own = {key: render(value, places, env) for key, value in spec.get("env", {}).items()}
    return {**service_env(spec["service"], places, env), **own}


# The one ${NAME} without a default that is not a secret: users see it.
PUBLIC_NAMES = {"PUBLIC_URL"}


def carries_secret(value: str) -> bool:
    """Whether a declared value holds a key of .env that is a secret (or an identifier kept with
    them): a ${NAME} without default other than PUBLIC_URL. Compose passes such values as files."""
    return any(m.group(1) and m.group(2) is None and m.group(1) not in PUBLIC_NAMES for m in _FIELD.finditer(value))


def secret_keys(service: str, bootstrap: bool = False) -> list[str]:
    """The variables of `service` (of its `manage.py bootstrap`) whose values carry a secret."""
    spec = SERVICES[service]
    declared = {**WIRING["env"], **spec["env"], **(spec.get("bootstrap_env", {}) if bootstrap else {})}
    return [key for key, value in declared.items() if carries_secret(value)]
