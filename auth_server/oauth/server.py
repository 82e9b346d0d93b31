"""oauthlib's OpenID Connect server, cut down to the grants this deployment offers.

DOT rejects the password and implicit grants only after oauthlib has started on them (the password
grant checks the user's password before it checks the client may use it, a password oracle).
Without a handler they are unknown: `unsupported_grant_type` / `unsupported_response_type`.
"""

from oauthlib.openid import Server as OpenIDServer

GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")


class Server(OpenIDServer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._grant_types = {name: self._grant_types[name] for name in GRANT_TYPES}
        self._response_types = {"code": self.auth_grant_choice}
