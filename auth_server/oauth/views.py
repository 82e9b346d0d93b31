"""This deployment's versions of DOT's and Django's views (everything else is DOT's, unchanged)."""

import calendar
import json
from urllib.parse import parse_qsl, urlsplit

from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.db import transaction
from django.db.models import Q
from django.forms.models import modelform_factory
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    revoke_access_token,
)
from oauth2_provider.oauth2_backends import _add_iss_to_redirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.openid.connect.core.exceptions import ConsentRequired

from common.revocation import token_digest
from oauth import hot_path, signing_keys
from oauth.audit import audit
from oauth.forms import ApplicationForm
from oauth.metrics import TOKEN_ERRORS

Application = get_application_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()


def allow_form_action(response, uri: str):
    """The page's forms may lead to `uri`'s origin, through the redirect that answers them.

    Browsers check a page's CSP form-action on that redirect too: nginx adds the origin named
    here to the form-action it sends (nginx/templates/default.conf.template).
    """
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    response["X-CSP-Form-Action"] = f"{parts.scheme}://{host}" if host else f"{parts.scheme}:"


def requesting_application(url: str):
    """The client of the authorization request at `url` (a path here), if it is one; else None."""
    parts = urlsplit(url)
    if parts.path != reverse("oauth2_provider:authorize"):
        return None
    client_id = dict(parse_qsl(parts.query)).get("client_id", "")
    return Application.objects.by_client_id(client_id) if client_id and "\x00" not in client_id else None


def authorization_redirect_uri(url: str) -> str | None:
    """Where the authorization request at `url` (a path here) ends, if that is a redirect URI its
    client registered."""
    application = requesting_application(url)
    if application is None:
        return None
    params = dict(parse_qsl(urlsplit(url).query))
    registered = application.redirect_uris.split()
    uri = params.get("redirect_uri") or (registered[0] if len(registered) == 1 else "")
    return uri if uri and application.redirect_uri_allowed(uri) else None


class LoginView(auth_views.LoginView):
    """Django's sign-in page. Signing in continues to `next`, and an authorization request there
    may redirect on to its client at once (a client that skips consent): the client's origin may
    be a form action."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # The page names the application that sent the user here (only a registered client's name).
        return {**super().get_context_data(**kwargs), "application": requesting_application(self.get_redirect_url())}

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        if redirect_uri := authorization_redirect_uri(self.get_redirect_url()):
            allow_form_action(response, redirect_uri)
        return response


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's consent page, with the user's answer in the audit log, and three additions.

    - `prompt=none` (OpenID Connect Core §3.1.2.1) never shows a page. Where DOT would show the
      consent page (every time for a client without skip_authorization: REQUEST_APPROVAL_PROMPT
      is "force"), the client gets `consent_required`; DOT answers `login_required` itself when
      no one is signed in (handle_no_permission). Either way at the client's redirect URI, with
      `state`. A request that needs no page gets its code as usual.
    - `iss` (RFC 9207) on every answer to the client, its errors too; DOT adds it to codes only.
    - The consent form's answer redirects to the client: its origin may be a form action.
    """

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code != 200:  # a redirect to the client, to sign-in, or an error page
            return response
        data = self.oauth2_data  # what DOT validated for the consent page
        if "none" in request.GET.get("prompt", "").split():
            error = OAuthToolkitError(ConsentRequired(state=data["state"]), redirect_uri=data["redirect_uri"])
            return self.error_response(error, data["application"])
        allow_form_action(response, data["redirect_uri"])
        return response

    def redirect(self, redirect_to, application):
        # DOT's own helper, as for its codes: replaces any `iss` already in the URI.
        issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
        return super().redirect(_add_iss_to_redirect(redirect_to, issuer), application)

    def form_valid(self, form):
        audit(
            "consent_granted" if form.cleaned_data.get("allow") else "consent_denied",
            client_id=form.cleaned_data.get("client_id"),
            user=self.request.user.get_username(),
            scopes=form.cleaned_data.get("scope"),
        )
        return super().form_valid(form)


class TokenView(hot_path.TokenView, dot_views.TokenView):
    """DOT's token endpoint, on the hot path's shortcuts (oauth/hot_path.py), without DOT's device-flow
    shortcut, which answered an unknown device code with 404 and never said slow_down: oauthlib's
    device grant asks the validator (validate_device_code). Its OAuth errors are counted by code."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code >= 400:
            TOKEN_ERRORS.labels(oauth_error(response)).inc()
        return response


# The codes a token endpoint answers with (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8707); any other is "other",
# so that the metric's label stays bounded.
TOKEN_ERROR_CODES = frozenset({
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
    "invalid_scope", "authorization_pending", "slow_down", "access_denied", "expired_token", "invalid_target",
    "server_error", "temporarily_unavailable"})


def oauth_error(response) -> str:
    """The `error` of an OAuth error answer, or "other"."""
    try:
        error = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return "other"
    return error if isinstance(error, str) and error in TOKEN_ERROR_CODES else "other"


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(OAuthLibMixin, View):
    """RFC 7662 for confidential clients allowed the `introspection` scope (docs/auth-server.md).

    Stock DOT answers any authenticated client, or any bearer of an `introspection` token, and
    reads the token from the query string on GET. Here a resource server authenticates as its
    own client with HTTP Basic and POSTs the token.
    """

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        client = self._authenticated_client(request)
        if client is None or "introspection" not in client.allowed_scopes.split():
            response = JsonResponse({"error": "invalid_client"}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="introspection"'
            return response
        tokens = request.POST.getlist("token")
        if len(tokens) != 1 or not tokens[0]:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "Send the token parameter exactly once."},
                status=400,
            )
        token_value = tokens[0]
        return JsonResponse(introspection(token_value))

    def _authenticated_client(self, request):
        # DOT's own check would also accept credentials in the body; introspection here is HTTP Basic only.
        core = self.get_oauthlib_core()
        oauth_request = OAuthlibRequest(*core._extract_params(request))
        validator = core.server.request_validator
        if validator._authenticate_basic_auth(oauth_request):
            return oauth_request.client
        validator._audit_client_failure(oauth_request)
        return None


def introspection(token_value: str) -> dict:
    token = (
        AccessToken.objects.select_related("user", "application")
        .filter(token_checksum=token_digest(token_value))
        .first()
    )
    if token is None or not token.is_valid() or (token.user and not token.user.is_active):
        return {"active": False}
    answer = {
        "active": True,
        "scope": token.scope,
        "exp": calendar.timegm(token.expires.utctimetuple()),
        "client_id": token.application.client_id,
        "token_type": "Bearer",
    }
    if token.user:
        answer |= {"username": token.user.get_username(), "sub": str(token.user.pk)}
    if token.resource:  # RFC 8707 audience, for the resource server to check
        answer["aud"] = token.resource
    return answer


class AuthorizedTokensListView(dot_views.AuthorizedTokensListView):
    """The user's connected apps: one row per application that can still act for them (a token still
    usable directly or through its refresh token), with the scopes granted and when it last got a
    token (signing in or refreshing)."""

    def get_queryset(self):
        usable = Q(expires__gt=timezone.now()) | Q(refresh_token__isnull=False, refresh_token__revoked__isnull=True)
        return super().get_queryset().filter(usable).order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        order = list(oauth2_settings.SCOPES)
        apps = {}
        for token in context["authorized_tokens"]:  # newest first
            app = apps.setdefault(token.application_id, {"application": token.application, "last_used": token.created,
                                                         "scopes": {}})
            app["scopes"].update(token.scopes)
            app["since"] = token.created
        for app in apps.values():
            app["scopes"] = [app["scopes"][s] for s in sorted(app["scopes"], key=lambda s: order.index(s)
                                                              if s in order else len(order))]
        context["connected_apps"] = list(apps.values())
        return context


class ConnectedAppRevokeView(LoginRequiredMixin, View):
    """Revoke everything one application holds for the signed-in user: its access and refresh tokens
    (through DOT's revoke path, so each revocation is recorded and announced to the API at once,
    oauth/revocation.py) and any authorization code not yet exchanged. GET asks first."""

    def held(self, application_id: int):
        """The application and what it holds for this user, or None if it holds nothing."""
        # An id past Postgres's bigint would be a database error, not a missing row.
        application = Application.objects.filter(pk=application_id).first() if application_id < 2**63 else None
        if application is None:
            return None
        user = self.request.user
        tokens = AccessToken.objects.filter(user=user, application=application)
        refresh_tokens = RefreshToken.objects.filter(user=user, application=application, revoked__isnull=True)
        return (application, tokens, refresh_tokens) if tokens.exists() or refresh_tokens.exists() else None

    def not_held(self):
        return render(self.request, "404.html", status=404, context={
            "reason": "This application has no access to your account (any more).",
        })

    def get(self, request, application_id):
        if (held := self.held(application_id)) is None:
            return self.not_held()
        return render(request, "oauth2_provider/authorized-app-revoke.html", {"application": held[0]})

    def post(self, request, application_id):
        if (held := self.held(application_id)) is None:
            return self.not_held()
        application, tokens, refresh_tokens = held
        with transaction.atomic():
            for token in tokens.select_for_update():
                revoke_access_token(token)  # its refresh token too
            for refresh_token in refresh_tokens.select_for_update():
                refresh_token.revoke()
            Grant.objects.filter(user=request.user, application=application).delete()
        return redirect("oauth2_provider:authorized-token-list")


class JwksInfoView(dot_views.JwksInfoView):
    """DOT's JWKS, from the keys on disk at this moment (oauth/signing_keys.py): the one that signs
    and the previous ones not yet retired. DOT's reads the keys the process started with."""

    def get(self, request, *args, **kwargs):
        keys = [{"alg": "RS256", "use": "sig", "kid": key.thumbprint(), **json.loads(key.export_public())}
                for key in signing_keys.current().published()]
        response = JsonResponse({"keys": keys})
        response["Access-Control-Allow-Origin"] = "*"
        max_age = oauth2_settings.OIDC_JWKS_MAX_AGE_SECONDS
        response["Cache-Control"] = f"public, max-age={max_age}, stale-while-revalidate={max_age}, stale-if-error={max_age}"
        return response


class RPInitiatedLogoutView(dot_views.RPInitiatedLogoutView):
    """DOT's "sign out of the client too?" page: its answer redirects to the client's registered
    post_logout_redirect_uri, whose origin may be a form action."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if response.status_code == 200 and (uri := self.oidc_data.get("post_logout_redirect_uri")):
            allow_form_action(response, uri)
        return response


class LogoutView(auth_views.LogoutView):
    """Django logs out on POST only (CSRF-safe); GET shows the page with the button."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        return render(request, "registration/logout.html")


# What a developer may set on their application. The secret is not among them: the server
# generates it, shows it once and stores only its hash (docs/auth-server.md, "Client secrets").
APPLICATION_FIELDS = (
    "name",
    "client_type",
    "authorization_grant_type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "algorithm",
    "allowed_scopes",
)


def application_form():
    return modelform_factory(Application, form=ApplicationForm, fields=APPLICATION_FIELDS)


class ManagesApplications(PermissionRequiredMixin):
    """Registering and managing clients is for users granted `oauth.add_application` (superusers have it).

    Anyone else could register a client named like a trusted one and show its consent page to
    users. Signed-out visitors are sent to sign in; signed-in ones get a page that says why not.
    """

    permission_required = "oauth.add_application"

    def handle_no_permission(self):
        if not self.request.user.is_authenticated:
            return super().handle_no_permission()
        return render(self.request, "403.html", status=403, context={
            "reason": "Registering and managing applications is open only to accounts an administrator "
                      "has allowed to (permission \"Can add application\").",
        })


class ApplicationList(ManagesApplications, dot_views.ApplicationList):
    pass


class ApplicationDetail(ManagesApplications, dot_views.ApplicationDetail):
    pass


class ApplicationDelete(ManagesApplications, dot_views.ApplicationDelete):
    pass


def secret_page(request, template, context):
    """The page that shows a new client secret: the only time it is ever shown, so never cached.
    With it, what a developer configures their client with (the "next steps")."""
    issuer = oauth2_settings.OIDC_ISS_ENDPOINT
    context = {**context, "issuer": issuer, "discovery_url": f"{issuer}/.well-known/openid-configuration"}
    response = render(request, template, context)
    add_never_cache_headers(response)
    return response


class ShowSecretOnceMixin:
    """Saves the application and answers with its new secret, the only time it is ever shown."""

    def secret_page(self, application, secret):
        return secret_page(self.request, "oauth2_provider/application_secret.html",
                           {"application": application, "client_secret": secret})


class ApplicationRegistration(ManagesApplications, ShowSecretOnceMixin, dot_views.ApplicationRegistration):
    def get_form_class(self):
        return application_form()

    def form_valid(self, form):
        form.instance.user = self.request.user
        secret = form.instance.client_secret  # the model's default: freshly generated, not yet hashed
        application = form.save()
        return self.secret_page(application, secret)


class ApplicationUpdate(ManagesApplications, dot_views.ApplicationUpdate):
    def get_form_class(self):
        return application_form()


class ApplicationSecretReset(ManagesApplications, ShowSecretOnceMixin, dot_views.ApplicationDetail):
    """POST: replace the secret with a new generated one (the old one stops working at once)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        application = self.get_object()
        secret = application.new_secret()
        audit("client_secret_reset", client_id=application.client_id, user=request.user.get_username())
        return self.secret_page(application, secret)
