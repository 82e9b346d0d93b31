"""Rotate and retire the ID-token signing keys (oauth/signing_keys.py; docs/auth-server.md).

    manage.py oidc_keys list             the keys, which one signs, until when the others are published
    manage.py oidc_keys rotate           a new key signs from now on; the old one stays published
    manage.py oidc_keys retire           unpublish the previous keys no unexpired ID token needs
    manage.py oidc_keys retire --all     unpublish every previous key now (after a compromise)
    manage.py oidc_keys activate KID     sign with a previous key again (undo a rotation)
"""

import fcntl
import time
from contextlib import contextmanager
from datetime import datetime, timezone

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from jwcrypto import jwk

from oauth import signing_keys


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Command(BaseCommand):
    help = "List, rotate or retire the OpenID Connect ID-token signing keys."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|rotate|retire")
        actions.add_parser("list", help="the keys and their state")
        actions.add_parser("rotate", help="generate a new signing key; the current one stays published")
        activate = actions.add_parser("activate", help="sign with a previous, still published key again")
        activate.add_argument("kid")
        retire = actions.add_parser("retire", help="stop publishing previous keys")
        retire.add_argument("--all", action="store_true",
                            help="every previous key, even one that signed ID tokens that have not expired yet")

    def handle(self, *args, action, **options):
        if not signing_keys.key_file().exists():
            raise CommandError(f"No signing key at {signing_keys.key_file()}: `make up` "
                               "(`manage.py ensure_oidc_key`) creates it on first start.")
        with self._locked():
            getattr(self, action)(**options)

    @contextmanager
    def _locked(self):
        # One rotation or retirement at a time (two at once could lose a key between them).
        lock_path = signing_keys.key_file().parent / ".oidc_keys.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def list(self, **options):
        active = jwk.JWK.from_pem(signing_keys.key_file().read_bytes())
        self.stdout.write(f"signing      {active.thumbprint()}")
        for previous in signing_keys.load_previous():
            if signing_keys.expired_by_age(previous):
                state = "retired (age)"
            else:
                state = f"published until {when(previous.superseded_at + settings.OIDC_KEY_RETIRE_AFTER)}"
            self.stdout.write(f"previous     {previous.kid}  replaced {when(previous.superseded_at)}, {state}")

    def rotate(self, **options):
        new_pem = signing_keys.new_private_key_pem()
        old_kid, now = self._replace_active(new_pem)
        self.stdout.write(f"signing key rotated: new ID tokens carry kid {jwk.JWK.from_pem(new_pem).thumbprint()}")
        self.stdout.write(f"kid {old_kid} stays published until {when(now + settings.OIDC_KEY_RETIRE_AFTER)} "
                          f"(OIDC_KEY_RETIRE_AFTER), or until `oidc_keys retire` after "
                          f"{when(now + self._id_token_lifetime())}")

    def activate(self, kid, **options):
        chosen = next((p for p in signing_keys.load_previous() if p.kid == kid), None)
        if chosen is None or signing_keys.expired_by_age(chosen):
            raise CommandError(f"No published previous key with kid {kid!r} (see `oidc_keys list`).")
        old_kid, now = self._replace_active(chosen.path.read_bytes())
        chosen.path.unlink()
        self.stdout.write(f"kid {kid} signs again; kid {old_kid} stays published until "
                          f"{when(now + settings.OIDC_KEY_RETIRE_AFTER)} unless retired first")

    @staticmethod
    def _replace_active(new_pem: bytes) -> tuple[str, float]:
        """Make `new_pem` the signing key; the one it replaces goes to previous/ first, so that no
        reader ever finds either key missing. Returns the replaced key's kid and the time."""
        path = signing_keys.key_file()
        old_pem = path.read_bytes()
        old_kid = jwk.JWK.from_pem(old_pem).thumbprint()
        now = time.time()
        signing_keys.previous_dir().mkdir(mode=0o700, exist_ok=True)
        signing_keys.write_private(signing_keys.previous_dir() / signing_keys.previous_name(now, old_kid), old_pem)
        signing_keys.write_private(path, new_pem)
        return old_kid, now

    def retire(self, all=False, **options):
        now = time.time()
        kept, retired = [], 0
        for previous in signing_keys.load_previous():
            needed_until = previous.superseded_at + self._id_token_lifetime()
            if all or now >= needed_until or signing_keys.expired_by_age(previous, now):
                previous.path.unlink(missing_ok=True)
                self.stdout.write(f"retired {previous.kid}")
                retired += 1
            else:
                kept.append((previous, needed_until))
        for previous, needed_until in kept:
            self.stdout.write(f"kept {previous.kid}: ID tokens it signed are valid until {when(needed_until)} "
                              f"(retire it then, or now with --all if it was compromised)")
        if not kept and not retired:
            self.stdout.write("no previous key to retire")

    @staticmethod
    def _id_token_lifetime() -> int:
        from oauth2_provider.settings import oauth2_settings

        return oauth2_settings.ID_TOKEN_EXPIRE_SECONDS
