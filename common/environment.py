"""The one way every process of the stack reads its configuration: `env("NAME")`.

A value comes from the variable NAME or, when NAME_FILE is set, from the file it names (as
django-environ's FileAwareEnv, and the official Postgres image, read them). The local stack passes
plain variables to its processes; Compose passes secrets as files under /run/secrets and only
their paths in the environment, so that no secret shows in `docker inspect`. A missing variable,
or a NAME_FILE that is unreadable or empty, stops the process with a message naming it.
"""

import os

import environ
from environ.fileaware_mapping import FileAwareMapping


class _Variables(FileAwareMapping):
    def __getitem__(self, key):
        path = self.env.get(f"{key}_FILE")
        if not path:
            return self.env[key]
        # Read each time (settings read each value once): no cache to go stale.
        try:
            with open(path, encoding="utf-8") as f:
                content = f.read().rstrip("\n")
        except OSError as exc:
            raise environ.ImproperlyConfigured(f"{key}_FILE names {path}, which cannot be read ({exc.strerror})") from None
        if not content:
            raise environ.ImproperlyConfigured(f"{key}_FILE names {path}, which is empty")
        return content


class Env(environ.Env):
    ENVIRON = _Variables()


env = Env()
# The variables as a mapping, NAME_FILE honoured: variables["NAME"], variables.get("NAME", default).
variables = env.ENVIRON


def value(name: str, default: str | None = None) -> str | None:
    """`name`'s value (from NAME or NAME_FILE), or `default` when neither is set."""
    return env.str(name) if name in env.ENVIRON else default
