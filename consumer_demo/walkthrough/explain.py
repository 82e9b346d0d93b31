"""Plain-language verdicts on what the API and the auth server answered.

A verdict has a tone ("ok", "expected": a refusal the demo set out to show, "bad": something the
visitor should act on), a title and a few sentences.
"""

import re
import time
from dataclasses import asdict, dataclass, field

import requests

_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Verdict:
    tone: str
    title: str
    text: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def bearer_challenge(response: requests.Response) -> dict:
    """The parameters of an RFC 6750 `WWW-Authenticate: Bearer ...` header."""
    return dict(_AUTH_PARAM.findall(response.headers.get("WWW-Authenticate", "")))


def api_verdict(response: requests.Response, tokens: dict, expect_refusal: bool = False,
                who: str = "The API") -> Verdict:
    status = response.status_code
    if status in (200, 201):
        return Verdict("bad" if expect_refusal else "ok", f"{who} answered {status} {response.reason}",
                       ["It accepted the access token." + (" It should not have!" if expect_refusal else "")])
    if status == 401:
        challenge = bearer_challenge(response)
        said = f' It said error="{challenge["error"]}".' if "error" in challenge else ""
        if tokens.get("revoked"):
            why = ("You revoked this access token: the auth server told the API at once (a revocation event), "
                   "so the API refuses it although it has not expired.")
        elif cause := tokens.get("family_revoked"):
            why = f"The auth server revoked this token, with the rest of its family, after {cause}."
        elif tokens.get("expires_at") and tokens["expires_at"] <= time.time():
            why = (f"The access token expired at {clock(tokens['expires_at'])}. Access tokens are short-lived "
                   "on purpose; use the refresh token (step 6) to get a new one without signing in again.")
        else:
            why = ("The auth server no longer vouches for this token: it expired, or it was revoked "
                   "(by a logout, by reuse of an old refresh token, or by a replayed authorization code). "
                   "Refresh it in step 6, or sign in again.")
        return Verdict("expected" if expect_refusal else "bad", f"401 Unauthorized: {who} refuses the token",
                       [said.strip() or "It gave no error detail.", why])
    if status == 403:
        needed = bearer_challenge(response).get("scope", "")
        return Verdict("expected", "403 Forbidden: the token lacks a scope", [
            f'The token is valid, but this call needs the scope "{needed}", and your token was only granted '
            f'"{" ".join(tokens.get("scope_list", []))}".',
            "A token carries exactly the permissions you approved. To see this call succeed, start again "
            f'and tick "{needed}" in step 1.',
        ])
    if status == 400:
        return Verdict("bad", "400 Bad Request: the API did not accept the data",
                       ["Each field the API complained about is listed in its answer below."])
    if status == 503:
        retry = response.headers.get("Retry-After")
        return Verdict("bad", "503: the API cannot check tokens right now", [
            "The API is running, but one of its dependencies (the auth server, or its database) is not "
            "answering. It refuses with 503 rather than a 401, so a client does not throw away a good token."
            + (f" It asks to retry after {retry} s." if retry else ""),
        ])
    return Verdict("bad", f"{who} answered {status} {response.reason}", ["See its answer below."])


def clock(timestamp: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(timestamp))
