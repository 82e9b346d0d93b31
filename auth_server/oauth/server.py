"""oauthlib's servers, cut down to the grants and response types this deployment offers.

DOT rejects the password and implicit grants only after oauthlib has started on them (the password
grant checks the user's password before it checks the client may use it, a password oracle).
Without a handler they are unknown: `unsupported_grant_type` / `unsupported_response_type`.
"""

import secrets

from django.conf import settings
from oauthlib.oauth2.rfc8628.endpoints import DeviceAuthorizationEndpoint
from oauthlib.openid import Server as OpenIDServer

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The token endpoint's grants and the authorization endpoint's response types, as discovery names
# them (oauth/discovery.py).
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token", DEVICE_CODE_GRANT)
RESPONSE_TYPES = ("code",)

# RFC 8628 §6.1: a user code is typed by people, often from a TV screen. 20 consonants (no vowels,
# so no words; no 0/O, 1/I look-alikes), 8 of them: 20^8 ≈ 2^34.6 codes, against at most
# DEVICE_CODE_FAILURE_LIMIT guesses per user in a window (oauth/device.py). Shown as XXXX-XXXX.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


def user_code() -> str:
    code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    return f"{code[:4]}-{code[4:]}"


def normalize_user_code(typed: str) -> str | None:
    """The code as stored (XXXX-XXXX), whatever the case and separators it was typed with; None if
    it can't be one."""
    code = "".join(c for c in typed.upper() if not (c.isspace() or c in "-–—._"))
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return f"{code[:4]}-{code[4:]}"


class Server(OpenIDServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._grant_types = {name: self._grant_types[name] for name in GRANT_TYPES}
        self._response_types = {name: self._response_types[name] for name in RESPONSE_TYPES}


class DeviceServer(DeviceAuthorizationEndpoint):
    """The device authorization endpoint (RFC 8628 §3.1) with this deployment's user codes and lifetime.

    oauthlib's DeviceApplicationServer passes neither a lifetime (its default is 30 minutes) nor
    anything but a plain generator on.
    """

    def __init__(self, request_validator, verification_uri, verification_uri_complete=None, interval=5, **kwargs):
        super().__init__(
            request_validator, verification_uri=verification_uri, interval=interval,
            verification_uri_complete=verification_uri_complete, user_code_generator=user_code,
            expires_in=settings.DEVICE_CODE_EXPIRE_SECONDS,
        )
