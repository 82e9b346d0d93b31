"""The timeline: every HTTP exchange the demo makes, kept in the visitor's session, secrets masked.

Back-channel exchanges (the demo talking to the auth server or the API) are recorded from the
requests that actually went out; front-channel steps (the browser being sent to the auth server and
coming back) are recorded as the demo saw them, so the timeline reads as the whole story.
"""

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

import requests

MAX_ENTRIES = 80
MAX_BODY_CHARS = 6000
# Never shown at all: the client's password.
SECRET_FIELDS = {"client_secret"}
# Bearer credentials and one-time values: shown shortened, enough to tell two apart.
TOKEN_FIELDS = {"access_token", "refresh_token", "id_token", "id_token_hint", "token", "code", "code_verifier",
                "device_code"}
MASK = "••••••••"


def shorten(value: str) -> str:
    return value if len(value) <= 16 else f"{value[:8]}…{value[-4:]}"


def _mask_value(name: str, value):
    if name in SECRET_FIELDS:
        return MASK
    if name in TOKEN_FIELDS and isinstance(value, str):
        return shorten(value)
    return value


def mask_url(url: str) -> str:
    """The URL as the timeline shows it (text, never a link): masked values are written as they are,
    since percent-encoding would turn their "…" into %E2%80%A6; every other value keeps its encoding."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        masked = _mask_value(name, value)
        pairs.append(f"{quote_plus(name)}={masked if masked != value else quote_plus(value)}")
    return urlunsplit(parts._replace(query="&".join(pairs)))


def mask_headers(headers) -> list[tuple[str, str]]:
    masked = []
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credentials = value.partition(" ")
            value = f"Bearer {shorten(credentials)}" if scheme.lower() == "bearer" else f"{scheme} {MASK}"
        elif name.lower() in ("cookie", "set-cookie"):
            value = MASK
        masked.append((name, value))
    return masked


def mask_body(body, content_type: str = "") -> str:
    """The body as readable text: forms one field per line, JSON pretty-printed, tokens masked."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError:
            pass
        else:
            return json.dumps(_mask_json(data), indent=2, ensure_ascii=False)[:MAX_BODY_CHARS]
    if "x-www-form-urlencoded" in content_type:
        return "\n".join(f"{k}={_mask_value(k, v)}" for k, v in parse_qsl(text, keep_blank_values=True))
    return text[:MAX_BODY_CHARS]


def _mask_json(data):
    if isinstance(data, dict):
        return {k: _mask_json(_mask_value(k, v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


class Timeline:
    """The visitor's timeline, stored in their session."""

    KEY = "timeline"

    def __init__(self, session):
        self.session = session

    @property
    def entries(self) -> list[dict]:
        return self.session.get(self.KEY, [])

    def _add(self, entry: dict) -> dict:
        entries = self.entries
        entry = {"n": (entries[-1]["n"] + 1) if entries else 1,
                 "at": datetime.now(timezone.utc).strftime("%H:%M:%S"), **entry}
        self.session[self.KEY] = [*entries, entry][-MAX_ENTRIES:]
        return entry

    def clear(self):
        self.session.pop(self.KEY, None)

    def browser(self, label: str, method: str, url: str, note: str = "") -> dict:
        """A front-channel step: the browser carries the request, the demo only builds or receives it."""
        return self._add({"channel": "browser", "label": label, "method": method, "url": mask_url(url),
                          "note": note})

    def response(self, label: str, response: requests.Response) -> dict:
        sent = response.request
        return self._add({
            "channel": "back",
            "label": label,
            "method": sent.method,
            "url": mask_url(sent.url),
            "request_headers": mask_headers(sent.headers),
            "request_body": mask_body(sent.body, sent.headers.get("Content-Type", "")),
            "status": response.status_code,
            "reason": response.reason,
            "response_headers": mask_headers(response.headers),
            "response_body": mask_body(response.content, response.headers.get("Content-Type", "")),
            "ms": round(response.elapsed.total_seconds() * 1000),
        })

    def failure(self, label: str, sent: requests.PreparedRequest | None, error: Exception) -> dict:
        return self._add({
            "channel": "back",
            "label": label,
            "method": sent.method if sent else "",
            "url": mask_url(sent.url) if sent else "",
            "request_headers": mask_headers(sent.headers) if sent else [],
            "request_body": mask_body(sent.body, sent.headers.get("Content-Type", "")) if sent else "",
            "status": None,
            "error": describe_network_error(error),
        })


def describe_network_error(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        return "no answer in time (timeout)"
    if isinstance(error, requests.ConnectionError):
        return "could not connect (connection refused or host unreachable)"
    return error.__class__.__name__
