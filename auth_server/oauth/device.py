"""The device authorization grant (RFC 8628): the endpoint devices call, and the page people confirm on.

A device POSTs its client id to `device-authorization/` and gets a device code (its own secret, for
polling the token endpoint) and a short user code, which the user types (or scans) at `device/`.
There the signed-in user sees which application asks for what, and allows or denies it. The token
endpoint's side (pending, slow_down, expired, denied, single use) is in the validator
(oauth2_validators.validate_device_code).

User codes are short enough to guess in bulk, so the page counts wrong ones per user and per
address (in Redis) and refuses both for the rest of the window once a limit is reached.
"""

import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from oauth2_provider.models import get_application_model, get_device_grant_model
from oauth2_provider.scopes import get_scopes_backend
from oauth2_provider.views.mixins import OAuthLibMixin

from oauth.audit import audit
from oauth.metrics import DEVICE_CODES
from oauth.login_guard import client_ip
from common.cache import redis_client as _redis  # the process's one Redis client
from oauth.server import DeviceServer, normalize_user_code

Application = get_application_model()
DeviceGrant = get_device_grant_model()

FAILURES_KEY = "oauth2:device-code-failures:"


@method_decorator(csrf_exempt, name="dispatch")
class DeviceAuthorizationView(OAuthLibMixin, View):
    """RFC 8628 §3.1-3.2, for public clients registered for the device grant.

    DOT's own view also hands device codes to clients registered for other grants (the user would be
    asked to approve a client that can never poll), and stores its default interval, not the one
    it announced.
    """

    server_class = DeviceServer
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        client_id = request.POST.get("client_id", "")
        application = Application.objects.by_client_id(client_id) if client_id else None
        if client_id and application is None:
            # RFC 6749 §5.2 (oauthlib calls it invalid_request).
            return JsonResponse({"error": "invalid_client", "error_description": "Unknown client."}, status=401)
        headers, body, status = self.create_device_authorization_response(request)
        if status != 200:
            return JsonResponse(json.loads(body), status=status, headers=headers)
        if application is None or application.authorization_grant_type != Application.GRANT_DEVICE_CODE:
            return JsonResponse({"error": "unauthorized_client",
                                 "error_description": "This client is not registered for the device grant."},
                                status=400)
        DeviceGrant.objects.create(
            client_id=application.client_id, device_code=body["device_code"], user_code=body["user_code"],
            scope=body.get("scope", ""), interval=body["interval"],
            expires=timezone.now() + timedelta(seconds=body["expires_in"]),
        )
        DEVICE_CODES.labels("issued").inc()
        response = JsonResponse(body, headers=headers)
        add_never_cache_headers(response)
        return response


class Refused(Exception):
    """What the user-code page answers instead of the confirmation: a status and a page."""

    def __init__(self, status: int, title: str, text: str, retry_after: int | None = None):
        super().__init__(title)
        self.status, self.title, self.text, self.retry_after = status, title, text, retry_after


class Guesses:
    """Wrong user codes per signed-in user and per address, counted in Redis for a fixed window."""

    def __init__(self, request):
        self.keys = {
            f"{FAILURES_KEY}user:{request.user.pk}": settings.DEVICE_CODE_FAILURE_LIMIT,
            f"{FAILURES_KEY}address:{client_ip(request)}": settings.DEVICE_CODE_FAILURE_ADDRESS_LIMIT,
        }

    def check(self):
        counts = _redis().mget(list(self.keys))
        for (key, limit), count in zip(self.keys.items(), counts):
            if count is not None and int(count) >= limit:
                raise Refused(429, "Too many wrong codes",
                              "Codes entered here were wrong too many times. Wait a while, then try again "
                              "with the code your device shows now.", retry_after=max(1, _redis().ttl(key)))

    def failed(self):
        window = settings.DEVICE_CODE_FAILURE_WINDOW_SECONDS
        with _redis().pipeline(transaction=False) as pipe:
            for key in self.keys:
                pipe.set(key, 0, ex=window, nx=True)  # the window starts with the first failure
                pipe.incr(key)
            pipe.execute()


class DeviceView(LoginRequiredMixin, View):
    """The verification URI: enter the code (GET, pre-filled from `user_code`), see who asks for
    what (POST `user_code`), then allow or deny (POST `user_code` and `allow` or `deny`)."""

    http_method_names = ["get", "post"]

    def get(self, request):
        typed = request.GET.get("user_code", "")
        return self.page("oauth2_provider/device/enter.html", {"user_code": normalize_user_code(typed) or typed})

    def post(self, request):
        typed = request.POST.get("user_code", "")
        try:
            grant = self.pending_grant(typed)
        except Refused as refused:
            response = self.page("oauth2_provider/device/refused.html",
                                 {"refused": refused, "user_code": typed}, status=refused.status)
            if refused.retry_after:
                response["Retry-After"] = str(refused.retry_after)
            return response
        application = Application.objects.by_client_id(grant.client_id)
        if "allow" not in request.POST and "deny" not in request.POST:
            all_scopes = get_scopes_backend().get_all_scopes()
            return self.page("oauth2_provider/device/confirm.html", {
                "grant": grant, "application": application,
                "scopes_descriptions": [all_scopes.get(s, s) for s in grant.scope.split()],
            })
        allowed = "allow" in request.POST
        status = DeviceGrant.AUTHORIZED if allowed else DeviceGrant.DENIED
        # Only a pending request is decided, once: of two answers racing, the first one counts.
        decided = DeviceGrant.objects.filter(pk=grant.pk, status=DeviceGrant.AUTHORIZATION_PENDING).update(
            status=status, user=request.user)
        if not decided:
            return self.page("oauth2_provider/device/refused.html",
                             {"refused": self.already_used(), "user_code": typed}, status=400)
        audit("device_granted" if allowed else "device_denied", client_id=grant.client_id,
              user=request.user.get_username(), scopes=grant.scope)
        DEVICE_CODES.labels("approved" if allowed else "denied").inc()
        return self.page("oauth2_provider/device/done.html", {"allowed": allowed, "application": application})

    def pending_grant(self, typed: str):
        """The pending request this code belongs to, or Refused; wrong codes count as guesses."""
        code = normalize_user_code(typed)
        if code is None:
            raise Refused(400, "That isn't a code from a device",
                          "A device code has 8 letters, like BCDF-GHJK (no vowels, no digits). Check what your "
                          "device shows and type it again.")
        guesses = Guesses(self.request)
        guesses.check()
        grant = DeviceGrant.objects.filter(user_code=code).order_by("-pk").first()
        if grant is None:
            guesses.failed()
            raise Refused(400, "No device is waiting for this code",
                          "The code is wrong, or its device is connected already. Check the code your device "
                          "shows and type it again.")
        if grant.is_expired():
            raise Refused(400, "This code has expired",
                          "Codes are valid for a few minutes. Start again on your device to get a new one.")
        if grant.status != grant.AUTHORIZATION_PENDING:
            raise self.already_used()
        return grant

    @staticmethod
    def already_used():
        return Refused(400, "This code was already used",
                       "Someone answered this request already. If it wasn't you, start again on your device.")

    def page(self, template, context, status=200):
        # Device codes and the choice made are for this user alone: never cached.
        response = render(self.request, template, context, status=status)
        add_never_cache_headers(response)
        return response
