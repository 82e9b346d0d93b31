"""The device chapter: the demo plays a TV that signs in with the device authorization grant (RFC 8628).

The TV can't show a sign-in page, so it asks the auth server for a pair of codes, shows you the short
one (and a link and QR code to type it at), and polls the token endpoint with the long one until you
have answered on another screen. Like the walkthrough, every action is a POST that redirects back
(the page's small script presses "Poll now" once per interval while the TV waits).
"""

import time

import segno
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from . import explain
from .client import Client
from .problems import Problem, post_only
from .timeline import shorten
from .views import client_for, result_for, see_other, show_result

# What the TV asks for: to read posts, and to know whose they are (the posts API's /api/me/).
SCOPE = "profile read"


@require_GET
def device(request):
    flow = request.session.get("device")
    context = {"step": "device", "flow": flow, "result": result_for(request, "device")}
    if flow:
        context |= {
            # An inline SVG: no image request, and nothing the page's CSP (img-src 'self' data:) refuses.
            "qr": mark_safe(segno.make(flow["verification_uri_complete"], error="m").svg_inline(scale=5)),
            "device_code": shorten(flow["device_code"]),
            "expires_at": explain.clock(flow["expires_at"]),
            "expired": flow["state"] == "waiting" and flow["expires_at"] <= time.time(),
            "access": shorten(flow["access_token"]) if flow.get("access_token") else "",
        }
    return render(request, "walkthrough/device.html", context)


@post_only
def device_action(request, action: str):
    client = client_for(request)
    if action == "start":
        verdict = start(request, client)
    elif action == "poll":
        verdict = poll(request, client)
    elif action == "call":
        verdict = call_api(request, client)
    elif action == "reset":
        request.session.pop("device", None)
        return see_other(reverse("device"))
    else:
        raise Http404
    request.session.modified = True  # the helpers change the flow in place
    return show_result(request, "device", verdict, client)


def start(request, client: Client) -> explain.Verdict:
    response = client.device_authorization(SCOPE)
    if response.status_code != 200:
        request.session.pop("device", None)
        return refusal("The auth server refused to start", response)
    codes = response.json()
    request.session["device"] = {
        "state": "waiting",
        "user_code": codes["user_code"],
        "device_code": codes["device_code"],
        "verification_uri": codes["verification_uri"],
        "verification_uri_complete": codes.get("verification_uri_complete", codes["verification_uri"]),
        "interval": codes.get("interval", 5),
        "expires_at": time.time() + codes["expires_in"],
        "polls": 0,
    }
    return explain.Verdict("ok", "The TV has its codes", [
        f"The user code {codes['user_code']} is for you: the TV shows it, with the address to type it at "
        f"({codes['verification_uri']}). It is short so people can type it, and worthless without you signing in.",
        f"The device code ({shorten(codes['device_code'])}, shortened) is for the TV alone: it never leaves the TV, "
        f"which sends it to the token endpoint every {codes.get('interval', 5)} seconds to ask whether you said yes.",
        f"Both expire at {explain.clock(time.time() + codes['expires_in'])}. The TV sent only its client id, "
        "no secret: a TV can't keep one (it is a public client).",
    ])


def poll(request, client: Client) -> explain.Verdict:
    flow = flow_of(request)
    response = client.device_poll(flow["device_code"])
    flow["polls"] += 1
    if response.status_code == 200:
        tokens = response.json()
        flow |= {"state": "done", "access_token": tokens["access_token"], "scope": tokens.get("scope", ""),
                 "token_expires_at": time.time() + int(tokens.get("expires_in", 0))}
        return explain.Verdict("ok", "The TV has its tokens", [
            "You allowed the request, so this poll got an access token (and a refresh token) instead of an error.",
            f"Granted scopes: {tokens.get('scope', '')}. No ID token: this sign-in is for the TV's access to the API, "
            "and the TV is no OpenID client.",
            "The device code is spent now: polling with it again gets invalid_grant.",
        ])
    error = error_of(response)
    if error == "authorization_pending":
        return explain.Verdict("expected", "Not yet: authorization_pending", [
            "Nobody has answered on the auth server yet. The TV waits its interval and asks again; open the link "
            "or scan the code to answer.",
        ])
    if error == "slow_down":
        flow["interval"] += 5
        return explain.Verdict("expected", "Too soon: slow_down", [
            "The TV asked again before its interval had passed. The auth server said slow_down, and from now on "
            f"the TV waits 5 seconds longer between polls ({flow['interval']} s), as RFC 8628 §3.5 requires.",
        ])
    flow["state"] = {"access_denied": "denied", "expired_token": "expired"}.get(error, "failed")
    if error == "access_denied":
        return explain.Verdict("expected", "Refused: access_denied", [
            "You clicked “Deny” on the auth server. The TV gets no tokens and stops polling.",
        ])
    if error == "expired_token":
        return explain.Verdict("expected", "Too late: expired_token", [
            "Nobody answered before the codes expired. The TV stops polling; start again for new codes.",
        ])
    return refusal("The auth server refused the device code", response)


def call_api(request, client: Client) -> explain.Verdict:
    flow = flow_of(request)
    if not flow.get("access_token"):
        return explain.Verdict("bad", "The TV has no token yet", ["Poll until you allowed the request."])
    response = client.call_api("Posts API: who am I (the TV's token)", "GET", "/api/me/", flow["access_token"])
    tokens = {"expires_at": flow["token_expires_at"], "scope_list": flow["scope"].split()}
    return explain.api_verdict(response, tokens)


def flow_of(request) -> dict:
    flow = request.session.get("device")
    if not flow:
        raise Problem(409, "Start the TV first", "There is no device sign-in in progress in this browser.",
                      next_step=("/device/", "Back to the device chapter"))
    return flow


def error_of(response) -> str:
    try:
        return response.json().get("error", "")
    except ValueError:
        return ""


def refusal(title: str, response) -> explain.Verdict:
    error = error_of(response) or f"HTTP {response.status_code}"
    return explain.Verdict("bad", f"{title}: {error}", ["Its answer is below."])
