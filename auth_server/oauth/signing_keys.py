"""The RS256 keys of ID tokens: one that signs, and the previous ones, still published for verification.

On disk, next to each other (a directory only the auth server's user reads; never in git):

    OIDC_KEY_FILE                          the active key (PEM): signs every new ID token
    previous/<superseded-at>-<kid>.pem     keys it replaced, in JWKS until they are retired

`manage.py rotate_oidc_key` copies the active key into previous/ first, then replaces the active
file in one rename, so a reader never finds a key missing. A previous key is retired by
`manage.py retire_oidc_keys` (which deletes its file) or, without anyone acting, once
OIDC_KEY_RETIRE_AFTER seconds have passed since it was replaced (it is then neither published
nor accepted). Every process reads the files again as soon as they change (one stat and one
directory listing per use), so all workers and replicas agree without a restart or a signal.
"""

import contextlib
import contextvars
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from jwcrypto import jwk

PREVIOUS_DIR = "previous"
_PREVIOUS_NAME = re.compile(r"^(\d{8}T\d{6}Z)-([A-Za-z0-9_-]{43})\.pem$")
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class PreviousKey:
    key: jwk.JWK
    superseded_at: float  # Unix time
    path: Path

    @property
    def kid(self) -> str:
        return self.key.thumbprint()


@dataclass(frozen=True)
class Keyring:
    active: jwk.JWK
    previous: tuple[PreviousKey, ...]  # newest first, retired ones left out

    def published(self) -> list[jwk.JWK]:
        """What JWKS lists and ID tokens are verified with: the active key, then the previous ones
        (each once: during a rotation the active key is briefly in previous/ too)."""
        keys = {self.active.thumbprint(): self.active}
        for p in self.previous:
            keys.setdefault(p.kid, p.key)
        return list(keys.values())

    def verification_keys(self) -> jwk.JWKSet:
        keys = jwk.JWKSet()
        for key in self.published():
            keys.add(key)
        return keys


def key_file() -> Path:
    return Path(settings.OIDC_KEY_FILE)


def previous_dir() -> Path:
    return key_file().parent / PREVIOUS_DIR


def new_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private(path: Path, pem: bytes):
    """Write a key readable by its owner only, under a temporary name first: a reader sees the old
    file or the whole new one, never half a key."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def previous_name(superseded_at: float, kid: str) -> str:
    return f"{datetime.fromtimestamp(superseded_at, timezone.utc).strftime(_TIME_FORMAT)}-{kid}.pem"


def load_previous() -> list[PreviousKey]:
    """Every key in previous/, retired by age or not, newest first."""
    found = []
    directory = previous_dir()
    for name in _listing(directory):
        match = _PREVIOUS_NAME.match(name)
        if not match:
            continue  # a temporary file of a rotation under way, or something not ours
        path = directory / name
        try:
            key = jwk.JWK.from_pem(path.read_bytes())
        except FileNotFoundError:
            continue  # retired meanwhile
        superseded = datetime.strptime(match[1], _TIME_FORMAT).replace(tzinfo=timezone.utc).timestamp()
        found.append(PreviousKey(key, superseded, path))
    return sorted(found, key=lambda p: p.superseded_at, reverse=True)


def expired_by_age(previous: PreviousKey, now: float | None = None) -> bool:
    return (now or time.time()) - previous.superseded_at >= settings.OIDC_KEY_RETIRE_AFTER


def _listing(directory: Path) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(directory)))
    except FileNotFoundError:
        return ()


# ---- what the server uses ---------------------------------------------------------------------
_lock = threading.Lock()
_loaded: tuple[tuple, jwk.JWK, list[PreviousKey]] | None = None
_pinned: contextvars.ContextVar[Keyring | None] = contextvars.ContextVar("pinned_keyring", default=None)


def current() -> Keyring:
    """The keys as they are on disk now (read again only when the files changed)."""
    if (pinned := _pinned.get()) is not None:
        return pinned
    global _loaded
    path = key_file()
    stat = path.stat()
    stamp = (path, stat.st_ino, stat.st_mtime_ns, stat.st_size, _listing(previous_dir()))
    with _lock:
        if _loaded is None or _loaded[0] != stamp:
            _loaded = (stamp, jwk.JWK.from_pem(path.read_bytes()), load_previous())
        _, active, previous = _loaded
    now = time.time()
    return Keyring(active, tuple(p for p in previous if not expired_by_age(p, now)))


@contextlib.contextmanager
def pinned():
    """One keyring for everything inside: an ID token's `kid` and its signature come from the same
    key even if a rotation lands in between."""
    token = _pinned.set(current())
    try:
        yield
    finally:
        _pinned.reset(token)
