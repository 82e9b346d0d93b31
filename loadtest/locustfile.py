"""Locust scenarios against the whole stack, through nginx.

One user class per scenario; `make loadtest SCENARIO=...` picks one (see loadtest/run.py):

    token    TokenEndpointUser  client-credentials grant at /o/token/
    refresh  RefreshingUser     authorization-code users who read posts and rotate their refresh token
    api      ApiUser            cached GETs of the posts API and some POSTs
    journey  JourneyUser        a whole visit: login, consent, code exchange, CRUD, refresh, revoke
    invalid  InvalidTokenUser   a flood of invalid bearer tokens (fresh and repeated)
    mixed    all of the above, weighted like real traffic

With the web UI (http://localhost:8089), from the repository root:

    .venv/bin/python -m locust -f loadtest/locustfile.py ApiUser RefreshingUser

Credentials and the URL come from the environment, or from the `.env` file (LOADTEST_ENV_FILE to
use another one): PUBLIC_URL (or PUBLIC_PORT), LOADTEST_CLIENT_ID/SECRET, DEMO_CLIENT_ID/SECRET,
DEMO_USERNAME/PASSWORD. LOADTEST_RATE_PER_USER (requests/s) paces every user at a fixed rate.
"""

import os
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import gevent.lock
from dotenv import dotenv_values
from locust import FastHttpUser, HttpUser, between, constant, task

from loadtest.pacing import paced
from stack.flows import AuthorizationRequest, Client, authorization_code_tokens, forms, login, submit_form

ROOT = Path(__file__).resolve().parent.parent


def _settings() -> dict[str, str]:
    env_file = Path(os.environ.get("LOADTEST_ENV_FILE", ROOT / ".env"))
    from_file = dotenv_values(env_file) if env_file.exists() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}


SETTINGS = _settings()
# As stack/envfile.py's public_url (this file also runs in the locust image, which has no stack/).
HOST = (SETTINGS.get("PUBLIC_URL") or f"http://localhost:{SETTINGS.get('PUBLIC_PORT') or 8080}").rstrip("/")
MACHINE_CLIENT = (SETTINGS.get("LOADTEST_CLIENT_ID", ""), SETTINGS.get("LOADTEST_CLIENT_SECRET", ""))
DEMO_CLIENT = Client(SETTINGS.get("DEMO_CLIENT_ID", ""), SETTINGS.get("DEMO_CLIENT_SECRET", ""),
                     f"{HOST}/callback/")
# Users refresh this long before their access token expires, and at the latest this often (rotation).
REFRESH_EVERY = float(SETTINGS.get("LOADTEST_REFRESH_EVERY", 30))


def pace(default):
    """The scenario's own think time, or a fixed request rate per user when one is asked for."""
    rate = SETTINGS.get("LOADTEST_RATE_PER_USER")
    return paced(float(rate)) if rate else default


class UserTokens:
    """The demo user's access and refresh token, from login + consent + code exchange over HTTP.

    Setting-up is not what these scenarios measure, so it runs outside locust's statistics; the
    browser session logs in once per locust process (a password check is deliberately slow).
    """

    _session = None
    _login_lock = gevent.lock.Semaphore()

    def __init__(self, scope: str = "read write profile"):
        with self._login_lock:
            if UserTokens._session is None:
                UserTokens._session = login(HOST, SETTINGS["DEMO_USERNAME"], SETTINGS["DEMO_PASSWORD"])
        self.update(authorization_code_tokens(HOST, UserTokens._session, DEMO_CLIENT, scope=scope))

    def update(self, answer: dict):
        self.access = answer["access_token"]
        self.refresh_token = answer["refresh_token"]
        self.refresh_at = time.monotonic() + min(REFRESH_EVERY, answer["expires_in"] - 30)

    @property
    def due(self) -> bool:
        return time.monotonic() >= self.refresh_at

    @property
    def header(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}

    def rotate(self, client):
        """Refresh with the rotated refresh token; the old one must never come back."""
        old = self.refresh_token
        with client.post("/o/token/", data={"grant_type": "refresh_token", "refresh_token": old},
                         auth=(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret),
                         name="/o/token/ [refresh_token]", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"refresh failed: {r.status_code} {r.text[:200]}")
                return
            answer = r.json()
            if answer.get("refresh_token") in (None, old):
                r.failure("refresh token was not rotated")
            self.update(answer)


class TokenEndpointUser(FastHttpUser):
    """(1) A machine client asking for client-credentials tokens as fast as it gets them."""

    host = HOST
    weight = 2
    wait_time = pace(constant(0))

    @task
    def client_credentials(self):
        self.client.post("/o/token/", data={"grant_type": "client_credentials", "scope": "read"},
                         auth=MACHINE_CLIENT, name="/o/token/ [client_credentials]")


class RefreshingUser(FastHttpUser):
    """(2) Authorization-code users who keep reading and refresh (rotate) their token periodically."""

    host = HOST
    weight = 3
    wait_time = pace(between(0.5, 1.5))

    def on_start(self):
        self.tokens = UserTokens()

    @task
    def read_and_refresh(self):
        if self.tokens.due:
            self.tokens.rotate(self.client)
        self.client.get("/api/posts/", headers=self.tokens.header, name="GET /api/posts/")


class ApiUser(FastHttpUser):
    """(3) The posts API's hot path: the same (cached) token for many GETs, and some POSTs."""

    host = HOST
    weight = 10
    wait_time = pace(between(0.05, 0.2))

    def on_start(self):
        self.tokens = UserTokens()
        self.my_posts: list[int] = []

    def _headers(self) -> dict:
        if self.tokens.due:
            self.tokens.rotate(self.client)
        return self.tokens.header

    @task(10)
    def list_posts(self):
        self.client.get("/api/posts/", headers=self._headers(), name="GET /api/posts/")

    @task(3)
    def read_post(self):
        if self.my_posts:
            post_id = self.my_posts[-1]
            self.client.get(f"/api/posts/{post_id}/", headers=self._headers(), name="GET /api/posts/{id}/")

    @task(1)
    def create_post(self):
        body = {"title": f"load test {secrets.token_hex(4)}", "body": "Written by locust."}
        with self.client.post("/api/posts/", json=body, headers=self._headers(), name="POST /api/posts/",
                              catch_response=True) as r:
            if r.status_code == 201:
                self.my_posts = [*self.my_posts[-9:], r.json()["id"]]
            else:
                r.failure(f"expected 201, got {r.status_code} {r.text[:200]}")


class InvalidTokenUser(FastHttpUser):
    """(5) Clients with bad tokens: every answer must be a fast 401 invalid_token, never a 5xx.

    Half the tokens are new each time (each costs the API one introspection), half repeat from a
    small set (the API's short cache of inactive answers should absorb them).
    """

    host = HOST
    weight = 1
    wait_time = pace(constant(0))
    repeated = [secrets.token_urlsafe(22) for _ in range(20)]

    @task
    def bad_token(self):
        if secrets.randbelow(2):
            token, name = secrets.token_urlsafe(22), "GET /api/posts/ [new invalid token]"
        else:
            token, name = secrets.choice(self.repeated), "GET /api/posts/ [repeated invalid token]"
        with self.client.get("/api/posts/", headers={"Authorization": f"Bearer {token}"}, name=name,
                             catch_response=True) as r:
            challenge = r.headers.get("WWW-Authenticate", "")
            if r.status_code == 401 and 'error="invalid_token"' in challenge:
                r.success()
            else:
                r.failure(f"expected 401 invalid_token, got {r.status_code} {challenge!r}")


class JourneyUser(HttpUser):
    """(4) A person's whole visit, each step recorded: public page, sign-in, consent, code exchange,
    writing and editing a post, reading, a refresh, revocation and sign-out."""

    host = HOST
    weight = 1
    wait_time = pace(between(1, 3))

    @task
    def visit(self):
        self.client.cookies.clear()
        self.client.get("/api/public/", name="GET /api/public/")
        tokens = self._sign_in()
        if not tokens:
            return
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        self.client.get("/api/me/", headers=auth, name="GET /api/me/")
        self.client.get("/api/posts/", headers=auth, name="GET /api/posts/")
        created = self.client.post("/api/posts/", json={"title": "My day", "body": "Load-tested."}, headers=auth,
                                   name="POST /api/posts/")
        if created.status_code == 201:
            url = f"/api/posts/{created.json()['id']}/"
            self.client.patch(url, json={"title": "My day, edited"}, headers=auth, name="PATCH /api/posts/{id}/")
            self.client.get(url, headers=auth, name="GET /api/posts/{id}/")
            self.client.delete(url, headers=auth, name="DELETE /api/posts/{id}/")
        refreshed = self.client.post("/o/token/", data={"grant_type": "refresh_token",
                                                        "refresh_token": tokens["refresh_token"]},
                                     auth=DEMO_CLIENT.auth, name="/o/token/ [refresh_token]")
        if refreshed.ok:
            self.client.post("/o/revoke_token/", data={"token": refreshed.json()["refresh_token"],
                                                       "token_type_hint": "refresh_token"},
                             auth=DEMO_CLIENT.auth, name="/o/revoke_token/")
        self.client.post("/accounts/logout/", data={"csrfmiddlewaretoken": self.client.cookies.get("csrftoken", "")},
                         headers={"Referer": f"{HOST}/"}, name="/accounts/logout/")

    def _sign_in(self) -> dict | None:
        page = self.client.get("/accounts/login/", name="GET /accounts/login/")
        submit_form(self.client, page, {"username": SETTINGS["DEMO_USERNAME"], "password": SETTINGS["DEMO_PASSWORD"]},
                    name="POST /accounts/login/")
        request = AuthorizationRequest(DEMO_CLIENT, scope="openid profile read write")
        consent = self.client.get(f"/o/authorize/?{urlencode(request.params())}", allow_redirects=False,
                                  name="GET /o/authorize/")
        if consent.status_code == 200 and forms(consent.text):
            consent = submit_form(self.client, consent, {}, submit="allow", allow_redirects=False,
                                  name="POST /o/authorize/")
        code = parse_qs(urlparse(consent.headers.get("Location", "")).query).get("code")
        if not code:
            return None
        exchanged = self.client.post("/o/token/", data={
            "grant_type": "authorization_code", "code": code[0], "redirect_uri": DEMO_CLIENT.redirect_uri,
            "code_verifier": request.code_verifier,
        }, auth=DEMO_CLIENT.auth, name="/o/token/ [authorization_code]")
        return exchanged.json() if exchanged.ok else None
