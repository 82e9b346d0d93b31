"""The walkthrough, one page per step. Actions are POSTs that redirect back to their page (POST,
303, GET), so reloading a page never repeats an action; the callback is the one exception, as it is
for any OAuth client: reloading it sends the code again, and the page says what that means."""

import functools
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

from authlib.common.security import generate_token
from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from . import explain, glossary
from .client import REQUIRED_SCOPES, SCOPES, Client, InvalidIdToken, Refused
from .metrics import WALKTHROUGH_STEPS
from .problems import Problem, post_only
from .timeline import Timeline, shorten

# Ticked on the start page. "profile" is left out so that step 5 can show a 403.
DEFAULT_SCOPES = ["openid", "read", "write"]
# Everything that belongs to one signed-in visit (the timeline outlives it).
LOGIN_KEYS = ("pending", "completed", "tokens", "login", "result")


def counted(step: str, actions: tuple[str, ...] = ()):
    """Count the step (`step`, or `step`_<action> for each of `actions`) as completed when its view
    answers (unless the verdict it shows is "bad": the visitor has to act) and as failed when it
    raises (a Problem page, an unreachable service)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            action = kwargs.get("action")
            if actions and action not in actions:
                return view(request, *args, **kwargs)  # not a step: its 404
            name = f"{step}_{action.replace('-', '_')}" if actions else step
            try:
                response = view(request, *args, **kwargs)
            except Exception:
                WALKTHROUGH_STEPS.labels(name, "failed").inc()
                raise
            result = request.session.get("result") if actions else None
            WALKTHROUGH_STEPS.labels(name, "failed" if result and result.get("tone") == "bad" else "completed").inc()
            return response
        return wrapper
    return decorate


def see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def client_for(request) -> Client:
    return Client(Timeline(request.session))


def tokens_of(request) -> dict:
    tokens = request.session.get("tokens")
    if not tokens:
        raise Problem(
            403, "Sign in first",
            "This step uses the tokens the demo gets in steps 1 to 4, and it has none for you: you have not "
            "signed in yet, you logged out, or your session with the demo expired.",
        )
    return tokens


def store_tokens(request, token: dict, id_token: str | None = None):
    request.session["tokens"] = {
        "access_token": token["access_token"],
        "refresh_token": token.get("refresh_token", ""),
        "id_token": token.get("id_token") or id_token or "",
        "expires_at": token.get("expires_at") or time.time() + int(token.get("expires_in", 0)),
        "scope_list": token.get("scope", "").split(),
    }


def token_summary(tokens: dict) -> dict:
    """What the pages show about the current tokens (shortened, with the time left)."""
    return {
        "access": shorten(tokens["access_token"]),
        "refresh": shorten(tokens["refresh_token"]) if tokens["refresh_token"] else "",
        "previous_refresh": shorten(tokens["previous_refresh_token"]) if tokens.get("previous_refresh_token") else "",
        "scopes": tokens["scope_list"],
        "expires_at": explain.clock(tokens["expires_at"]),
        "seconds_left": max(0, round(tokens["expires_at"] - time.time())),
        "revoked": tokens.get("revoked", False),
        "family_revoked": tokens.get("family_revoked", False),
    }


def result_for(request, page: str) -> dict | None:
    result = request.session.get("result")
    return result if result and result["page"] == page else None


def show_result(request, page: str, verdict: explain.Verdict, client: Client, **extra) -> HttpResponseRedirect:
    request.session["result"] = {"page": page, **verdict.as_dict(), "entries": client.entries, **extra}
    return see_other(reverse(page) + "#result")


# ---- step 1 ---------------------------------------------------------------------------------
@require_GET
def home(request):
    signed_out = False
    state = request.GET.get("state", "")
    if state and same(state, request.session.get("logout_state", "")):
        del request.session["logout_state"]
        Timeline(request.session).browser("Back from the auth server's logout", "GET", request.build_absolute_uri())
        signed_out = True
    scopes = [{"name": name, "text": text, "checked": name in DEFAULT_SCOPES, "required": name in REQUIRED_SCOPES}
              for name, text in SCOPES.items()]
    return render(request, "walkthrough/home.html", {
        "step": 1, "scopes": scopes, "signed_in": "tokens" in request.session, "signed_out": signed_out,
    })


@post_only
def start(request):
    chosen = request.POST.getlist("scope")
    scopes = [name for name in SCOPES if name in REQUIRED_SCOPES or name in chosen]
    request.session["pending"] = client_for(request).authorization_request(scopes)
    return see_other(reverse("authorize"))


@require_GET
def authorize(request):
    flow = request.session.get("pending")
    if not flow:
        return see_other(reverse("home"))
    parameters = [{"name": name, "value": value, "help": glossary.AUTHORIZATION_PARAMETERS.get(name, "")}
                  for name, value in parse_qsl(urlsplit(flow["url"]).query)]
    return render(request, "walkthrough/authorize.html", {
        "step": 2, "flow": flow, "endpoint": flow["url"].split("?", 1)[0], "parameters": parameters,
        "verifier": shorten(flow["code_verifier"]),
    })


# ---- steps 3 and 4 ----------------------------------------------------------------------------
@require_GET
@counted("sign_in")
def callback(request):
    session, query = request.session, request.GET
    url = request.build_absolute_uri()
    client = client_for(request)
    pending, completed = session.get("pending"), session.get("completed")
    state = query.get("state", "")
    if pending and same(state, pending["state"]):
        # What happened at the auth server between the authorization request and this redirect: the
        # demo sees none of it, but the callback's answer tells which way the consent went.
        client.timeline.browser("At the auth server: you sign in (skipped if you were signed in there already)",
                                "POST", f"{settings.PUBLIC_URL}/accounts/login/")
        answer = "you allow access" if query.get("code") else "you deny access, or the request is refused"
        client.timeline.browser(f"At the auth server: the consent page, {answer}", "POST",
                                f"{settings.PUBLIC_URL}/o/authorize/")
    client.timeline.browser("Redirect back to the demo: the callback", "GET", url)

    if completed and state and same(state, completed["state"]) and same(query.get("code", ""), completed["code"]):
        replay_code(request, client, completed, url)
    if not (pending and state and same(state, pending["state"])):
        raise Problem(
            400, "Refused: the state does not match",
            "The callback carried a state the demo never gave out"
            + (f" (it expected {shorten(pending['state'])}, got {shorten(state) or 'none'})." if pending else
               ": no sign-in is in progress in this browser."),
            "The state is how the demo knows the redirect belongs to a sign-in you started here. A changed "
            "state means the link was tampered with or forged (cross-site request forgery), so the demo did "
            "not send the code anywhere. (Started a newer sign-in in another tab? Only the latest one counts.)",
        )
    if error := query.get("error"):
        del session["pending"]
        if error == "access_denied":
            raise Problem(403, "You denied access",
                          "You clicked “Deny” on the consent page, so the auth server sent your browser back "
                          "with error=access_denied instead of a code. The demo got no tokens and can do "
                          "nothing on your behalf: that is exactly what denying means.",
                          "Start again and click “Allow” to continue the walkthrough.")
        raise Problem(400, f"The auth server refused the request: {error}",
                      query.get("error_description") or "It gave no further description.")
    if not query.get("code"):
        raise Problem(400, "No authorization code", "The callback came back without a code or an error.")
    if (issuer := query.get("iss")) and issuer != settings.OAUTH_ISSUER:
        raise Problem(400, "Refused: the code comes from another issuer",
                      f"The callback says iss={issuer}, but the demo signed you in at {settings.OAUTH_ISSUER}. "
                      "Sending the code to the wrong server is the “mix-up” attack (RFC 9207), so the demo "
                      "stopped here.")

    try:
        token = client.exchange_code(pending, url)
    except Refused as exc:
        del session["pending"]
        if exc.server_failed:
            raise
        raise Problem(400, f"The auth server refused the code: {exc.error}",
                      exc.description,
                      "A code is valid for one minute and for one exchange only. Start again to get a new one.",
                      entries=client.entries) from exc
    try:
        id_token = client.verify_id_token(token["id_token"], pending["nonce"], token["access_token"])
    except InvalidIdToken as exc:
        del session["pending"]
        raise Problem(502, "The ID token failed verification",
                      f"The check that failed: {exc}.",
                      "The demo does not trust an ID token it cannot verify, so it threw the tokens away.",
                      entries=client.entries) from exc

    for key in LOGIN_KEYS:
        session.pop(key, None)
    session["completed"] = {k: pending[k] for k in ("state", "nonce", "code_verifier")} | {"code": query["code"]}
    store_tokens(request, token)
    session["login"] = {
        "code": shorten(query["code"]), "state": state, "iss": query.get("iss", ""),
        "scope_asked": " ".join(pending["scope"]), "scope_granted": token.get("scope", ""),
        "id_token": id_token, "claims": claim_rows(id_token["claims"]), "entries": client.entries,
    }
    return render(request, "walkthrough/login.html", {"step": 3, "login": session["login"], "fresh": True})


def replay_code(request, client: Client, completed: dict, url: str):
    """A reloaded callback: send the spent code again and show what the auth server makes of it."""
    try:
        client.exchange_code(completed, url, label="Token request with the same code again (a replay)")
    except Refused as exc:
        answer = (f"The auth server failed on it ({exc.error}) instead of refusing it." if exc.server_failed else
                  f"It answered error={exc.error}: an authorization code works once.")
    else:
        answer = "It accepted the code a second time, which it must not do (RFC 6749 §4.1.2)."
    consequence, next_step = [], ("/login/", "Back to your sign-in")
    if (tokens := request.session.get("tokens")) and family_alive(request, client, tokens, "a replayed code"):
        consequence = ["Your tokens still work: this auth server did not revoke them (the demo renewed them to check)."]
    elif tokens:
        consequence = ["The auth server also revoked the tokens it had issued from that code, since someone "
                       "replaying a code may have stolen it (RFC 9700). The demo's tokens are dead: sign in again."]
        next_step = ("/", "Sign in again")
    raise Problem(
        400, "This callback was already used",
        "You reloaded the callback page (or came back to it). Its address still holds the authorization "
        "code, which the demo had already exchanged for tokens, so the demo sent the code again to show "
        "what happens. " + answer, *consequence,
        entries=client.entries, next_step=next_step,
    )


def family_alive(request, client: Client, tokens: dict, suspect: str) -> bool:
    """Whether the newest refresh token still works after `suspect` (what may have revoked it). On a
    revoked family this changes nothing; on a live one it merely renews the tokens."""
    try:
        token = client.refresh(tokens["refresh_token"], label="Token request: is the newest refresh token still good?")
    except Refused as exc:
        if exc.server_failed:
            raise
        tokens["family_revoked"] = suspect
        request.session.modified = True
        return False
    store_tokens(request, token, id_token=tokens["id_token"])
    return True


def claim_rows(claims: dict) -> list[dict]:
    known = list(glossary.ID_TOKEN_CLAIMS)
    ordered = sorted(claims, key=lambda name: known.index(name) if name in known else len(known))
    return [{"name": name, "value": claims[name], "help": glossary.ID_TOKEN_CLAIMS.get(name, ""),
             "when": explain.clock(claims[name]) if name in glossary.TIME_CLAIMS else ""} for name in ordered]


@require_GET
def login(request):
    if not (summary := request.session.get("login")):
        tokens_of(request)  # explains that there is nothing to show yet
    return render(request, "walkthrough/login.html", {"step": 3, "login": summary})


# ---- step 5 --------------------------------------------------------------------------------
@require_GET
def posts(request):
    tokens = tokens_of(request)
    return render(request, "walkthrough/posts.html", {
        "step": 5, "tokens": token_summary(tokens), "result": result_for(request, "posts"),
    })


@post_only
@counted("posts", actions=("list", "create", "me", "userinfo"))
def posts_action(request, action: str):
    tokens = tokens_of(request)
    client = client_for(request)
    access_token = tokens["access_token"]
    if action == "list":
        response = client.call_api("Posts API: list posts", "GET", "/api/posts/", access_token)
    elif action == "create":
        post = {"title": request.POST.get("title", ""), "body": request.POST.get("body", "")}
        response = client.call_api("Posts API: create a post", "POST", "/api/posts/", access_token, json=post)
    elif action == "me":
        response = client.call_api("Posts API: who am I (needs profile)", "GET", "/api/me/", access_token)
    elif action == "userinfo":
        response = client.userinfo(access_token)
    else:
        raise Http404
    verdict = explain.api_verdict(response, tokens, who="The auth server" if action == "userinfo" else "The API")
    listed = posts_in(response) if action == "list" and response.status_code == 200 else None
    return show_result(request, "posts", verdict, client, action=action, posts=listed)


def posts_in(response) -> list[dict]:
    """The posts of one page of the API's list, whichever pagination envelope it uses."""
    try:
        page = response.json()
    except ValueError:
        return []
    items = page.get("items", page.get("results", [])) if isinstance(page, dict) else page
    return [p for p in items if isinstance(p, dict)] if isinstance(items, list) else []


# ---- step 6 --------------------------------------------------------------------------------
@require_GET
def tokens(request):
    return render(request, "walkthrough/tokens.html", {
        "step": 6, "tokens": token_summary(tokens_of(request)), "result": result_for(request, "tokens"),
    })


@post_only
@counted("tokens", actions=("refresh", "reuse", "revoke", "revoke-refresh", "call"))
def tokens_action(request, action: str):
    tokens = tokens_of(request)
    client = client_for(request)
    if action == "refresh":
        verdict = refresh(request, client, tokens)
    elif action == "reuse":
        verdict = reuse_old_refresh_token(request, client, tokens)
    elif action == "revoke":
        verdict = revoke(client, tokens)
    elif action == "revoke-refresh":
        verdict = revoke_refresh_token(client, tokens)
    elif action == "call":
        response = client.call_api("Posts API: call with the current access token", "GET", "/api/posts/",
                                   tokens["access_token"])
        dead = tokens.get("revoked") or tokens.get("family_revoked")
        verdict = explain.api_verdict(response, tokens, expect_refusal=bool(dead))
    else:
        raise Http404
    request.session.modified = True  # the helpers change the tokens dict in place
    return show_result(request, "tokens", verdict, client)


def refresh(request, client: Client, tokens: dict) -> explain.Verdict:
    try:
        token = client.refresh(tokens["refresh_token"])
    except Refused as exc:
        if exc.server_failed:
            raise
        return explain.Verdict("bad", f"The auth server refused the refresh token: {exc.error}", [
            exc.description,
            "The refresh token is no longer valid: it was revoked (with its access token, by a logout, or "
            "after a spent refresh token came back), or it expired. Sign in again to get new tokens.",
        ])
    old = dict(tokens)
    store_tokens(request, token, id_token=old["id_token"])
    new = request.session["tokens"]
    new["previous_refresh_token"] = old["refresh_token"]
    rotated = new["refresh_token"] != old["refresh_token"]
    return explain.Verdict("ok", "New tokens, without signing in again", [
        f"Access token {shorten(old['access_token'])} → {shorten(new['access_token'])}, valid until "
        f"{explain.clock(new['expires_at'])}.",
        f"Refresh token {shorten(old['refresh_token'])} → {shorten(new['refresh_token'])}: " + (
            "rotated. Each refresh token works once; the old one is now spent. Try it below to see the auth "
            "server refuse it." if rotated else "not rotated: the auth server kept the same refresh token."),
    ])


def reuse_old_refresh_token(request, client: Client, tokens: dict) -> explain.Verdict:
    old = tokens.pop("previous_refresh_token", None)
    if not old:
        raise Problem(409, "Refresh first", "There is no spent refresh token to try yet: refresh the tokens first.",
                      next_step=("/tokens/", "Back to step 6"))
    try:
        token = client.refresh(old, label="Token request with the OLD refresh token (a reuse)")
    except Refused as exc:
        if exc.server_failed:
            raise
        refused = f"Refused as it should be: {exc.error}"
        rotated_away = "The old refresh token was rotated away in the last refresh, so the auth server rejects it."
        if family_alive(request, client, tokens, "the reuse of a spent refresh token"):
            return explain.Verdict("expected", refused, [
                rotated_away, "Your newest tokens still work (the demo renewed them to check).",
            ])
        return explain.Verdict("expected", refused, [
            rotated_away,
            "A spent refresh token coming back means two parties hold the same token, one of them perhaps a "
            "thief. So the auth server also revoked the whole family: even the newest refresh token is refused "
            "now (the second exchange below), and so are the access tokens. Sign in again to continue.",
        ])
    store_tokens(request, token, id_token=tokens["id_token"])
    return explain.Verdict("bad", "The auth server accepted a spent refresh token", [
        "Refresh tokens are not rotated, or not checked for reuse, on this auth server (RFC 9700 §4.14).",
    ])


def revoke(client: Client, tokens: dict) -> explain.Verdict:
    return _revoked(client, tokens, "access_token", "Access token revoked, and its refresh token with it", [
        "The auth server answered 200 (it always does, so that nobody can probe which tokens exist) and "
        "marked the token revoked. It also told the posts API, which forgets its cached answer for it.",
        "The token has not expired, yet from now on the API refuses it. Call the API below to see the 401.",
        "The refresh token issued with it is revoked too: RFC 7009 lets a server choose, and this one "
        "does, so an app that was cut off can't quietly get new tokens. Refresh below to see invalid_grant.",
    ])


def revoke_refresh_token(client: Client, tokens: dict) -> explain.Verdict:
    """RFC 7009 with token_type_hint=refresh_token: what an app does when the user disconnects it."""
    if not tokens.get("refresh_token"):
        raise Problem(409, "No refresh token", "This sign-in got no refresh token to revoke.",
                      next_step=("/tokens/", "Back to step 6"))
    return _revoked(client, tokens, "refresh_token", "Refresh token revoked, and the access token with it", [
        "The auth server answered 200 and ended the whole grant: the refresh token can't be exchanged any "
        "more, and the access token issued with it stopped working at once (the API was told).",
        "This is what an app sends when you disconnect it or sign out of it: the long-lived token is the one "
        "that matters. Refresh or call the API below to see both refused.",
    ])


def _revoked(client: Client, tokens: dict, kind: str, title: str, text: list[str]) -> explain.Verdict:
    """Revoke the `kind` token ("access_token" or "refresh_token", RFC 7009's token_type_hint too);
    the verdict `title` and `text` when the auth server took it."""
    response = client.revoke(tokens[kind], hint=kind)
    if response.status_code != 200:
        return explain.Verdict("bad", f"The auth server answered {response.status_code}",
                               [f"The {kind.replace('_', ' ')} was not revoked; see the answer below."])
    tokens["revoked"] = True
    # Showing reuse protection needs a live family: after a revocation its outcome would prove nothing.
    tokens.pop("previous_refresh_token", None)
    return explain.Verdict("ok", title, text)


@post_only
@counted("logout")
def logout(request):
    """Forget the tokens here, then send the browser to the auth server to end its session too."""
    tokens = request.session.get("tokens")
    for key in LOGIN_KEYS:
        request.session.pop(key, None)
    if not (tokens and tokens["id_token"]):
        return see_other(reverse("home"))
    state = generate_token(20)
    request.session["logout_state"] = state
    return see_other(client_for(request).logout_url(tokens["id_token"], state))


# ---- the timeline ----------------------------------------------------------------------------
@require_GET
def timeline(request):
    return render(request, "walkthrough/timeline.html", {"entries": Timeline(request.session).entries})


@post_only
def timeline_clear(request):
    Timeline(request.session).clear()
    return see_other(reverse("timeline"))
