"""Configuration that must hold before the auth server answers anything (Django's system checks).

`manage.py check` runs them, and so does every management command; the signing key's presence only
with `check --deploy`, which `manage.py bootstrap` runs once it has created the key.
"""

from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.core import checks
from jwcrypto import jwk


@checks.register(checks.Tags.security)
def secret_hashing(app_configs, **kwargs):
    errors = []
    name = settings.OAUTH2_PROVIDER.get("CLIENT_SECRET_HASHER")
    try:
        get_hasher(name)
    except ValueError:
        errors.append(checks.Error(f"CLIENT_SECRET_HASHER {name!r} is not one of PASSWORD_HASHERS.",
                                   hint="Add oauth.hashers.ClientSecretSHA256Hasher to PASSWORD_HASHERS.",
                                   id="oauth.E001"))
    if get_hasher("default").algorithm == name:
        errors.append(checks.Error("Users' passwords would be hashed with the client-secret hasher, which "
                                   "has no key stretching.", hint="Keep PBKDF2 first in PASSWORD_HASHERS.",
                                   id="oauth.E002"))
    return errors


@checks.register(checks.Tags.security)
def restricted_scopes(app_configs, **kwargs):
    unknown = sorted(set(settings.RESTRICTED_SCOPES) - set(settings.OAUTH2_PROVIDER["SCOPES"]))
    if unknown:
        return [checks.Error(f"RESTRICTED_SCOPES names scopes that don't exist: {', '.join(unknown)}.",
                             hint="Every restricted scope must be one of OAUTH2_PROVIDER['SCOPES'].", id="oauth.E003")]
    return []


def _signing_key_pem() -> str:
    # Read now, not from the settings: the key is read from its file at each use (oauth/signing_keys.py).
    path = settings.OIDC_KEY_FILE
    return path.read_text() if path.exists() else ""


@checks.register(checks.Tags.security)
def signing_key(app_configs, **kwargs):
    pem = _signing_key_pem()
    if not settings.OAUTH2_PROVIDER.get("OIDC_ENABLED") or not pem:
        return []
    try:
        key = jwk.JWK.from_pem(pem.encode())
    except (ValueError, TypeError) as exc:
        return [checks.Error(f"The OIDC signing key ({settings.OIDC_KEY_FILE}) can't be read: {exc}.",
                             hint="Restore the file, or delete it and run manage.py ensure_oidc_key.",
                             id="oauth.E004")]
    if key.get("kty") != "RSA" or not key.has_private:
        return [checks.Error(f"The OIDC signing key ({settings.OIDC_KEY_FILE}) is not an RSA private key.",
                             id="oauth.E005")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def signing_key_present(app_configs, **kwargs):
    if settings.OAUTH2_PROVIDER.get("OIDC_ENABLED") and not _signing_key_pem():
        return [checks.Error(f"No OIDC signing key at {settings.OIDC_KEY_FILE}.",
                             hint="Run manage.py ensure_oidc_key (the set-up does).", id="oauth.E006")]
    return []


@checks.register()
def revocation_windows(app_configs, **kwargs):
    interval, memory = settings.REVOCATION_HEARTBEAT_INTERVAL, settings.REVOCATION_MEMORY_WINDOW
    if not 0 < interval < settings.REVOCATION_FRESHNESS or not (memory == 0 or interval < memory <= 1):
        return [checks.Error("REVOCATION_HEARTBEAT_INTERVAL must be shorter than REVOCATION_FRESHNESS and than "
                             "REVOCATION_MEMORY_WINDOW (unless that is 0), which may be at most 1 s: a resource "
                             "server trusts its caches only between heartbeats, and revocations wait for it.",
                             id="oauth.E007")]
    return []
