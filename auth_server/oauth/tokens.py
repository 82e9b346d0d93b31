"""Access and refresh token values (DOT's ACCESS_TOKEN_GENERATOR and REFRESH_TOKEN_GENERATOR)."""

import secrets


def random_token(request, refresh_token=False) -> str:
    """256 random bits, URL-safe (43 characters), in one call to the operating system's generator.

    oauthlib's default draws its 30 characters (178 bits) one at a time from `SystemRandom`: 30
    system calls per token, 5 % of the token endpoint's CPU (docs/performance.md).
    """
    return secrets.token_urlsafe(32)
