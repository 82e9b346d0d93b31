"""The client forms of the self-service pages (/o/applications/) and of the admin: they offer only
what this server accepts, start from its recommended settings, and say what each choice means.

No field holds the secret: the server generates it and shows it once (docs/auth-server.md,
"Client secrets").
"""

from django import forms
from django.conf import settings
from oauth2_provider.forms import ApplicationForm as DOTApplicationForm
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

Application = get_application_model()

HELP = {
    "name": "Users see this name on the sign-in and consent pages and on Connected apps, so make it "
            "the name they know the application by. No two applications may share it.",
    "client_type": "Confidential: runs on a server that can keep a secret; the server generates the secret "
                   "and shows it once. Public: runs where a secret can't be kept (a browser, a phone, a "
                   "device); it has no secret and proves itself with PKCE alone.",
    "authorization_grant_type": "Authorization code: users sign in here and consent, and the application "
                                "acts on their behalf (always with PKCE, S256). Client credentials: the "
                                "application acts as itself, with no user (confidential applications only).",
    "redirect_uris": "Where users are sent back with the code, separated by spaces or new lines. Compared "
                     "exactly (scheme, host, port and path). Needed for the authorization code grant.",
    "post_logout_redirect_uris": "Where users may be sent after signing out here at the application's "
                                 "request (OpenID Connect logout). Compared exactly.",
    "algorithm": "RS256: the application gets ID tokens signed with this server's key, which it checks "
                 "against the published JWKS (OpenID Connect sign-in). None: access tokens only.",
    "allowed_scopes": "The scopes this application may ever be granted. Tick none to allow every scope "
                      "that is not restricted.",
}
ALGORITHM_CHOICES = [(Application.RS256_ALGORITHM, "RS256 (RSA signature, the server's published key)"),
                     (Application.NO_ALGORITHM, "None: no ID tokens")]
GRANT_LABELS = {Application.GRANT_AUTHORIZATION_CODE: "Authorization code, with PKCE",
                Application.GRANT_CLIENT_CREDENTIALS: "Client credentials",
                Application.GRANT_DEVICE_CODE: "Device code (RFC 8628), for a public client on a device without a browser"}
# What a new application starts as: the recommended setup for an application users sign in to.
DEFAULTS = {"client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "algorithm": Application.RS256_ALGORITHM}


class ApplicationForm(DOTApplicationForm):
    """For the self-service pages: restricted scopes (introspection) are the admin's to give."""

    allowed_scopes = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                               label="Allowed scopes")
    offers_restricted_scopes = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["authorization_grant_type"].choices = [
            (value, GRANT_LABELS.get(value, label)) for value, label in fields["authorization_grant_type"].choices
            if value in Application.OFFERED_GRANT_TYPES]
        fields["algorithm"].choices = ALGORITHM_CHOICES
        fields["client_type"].choices = [c for c in fields["client_type"].choices if c[0]]
        self._restricted_kept = []
        if "allowed_scopes" in fields:
            stored = self.instance.allowed_scopes.split()
            offered = [(s, f"{s}: {d}") for s, d in oauth2_settings.SCOPES.items()
                       if self.offers_restricted_scopes or s not in settings.RESTRICTED_SCOPES]
            fields["allowed_scopes"].choices = offered
            self.initial["allowed_scopes"] = stored
            # An administrator's grant of a restricted scope survives an edit on the self-service page.
            self._restricted_kept = [s for s in stored if s not in dict(offered)]
        for name, text in HELP.items():
            if name in fields:
                fields[name].help_text = text
        if self.instance.pk is None:
            for name, value in DEFAULTS.items():
                self.initial.setdefault(name, value)

    def clean_allowed_scopes(self):
        chosen = set(self.cleaned_data["allowed_scopes"]) | set(self._restricted_kept)
        return " ".join(s for s in oauth2_settings.SCOPES if s in chosen)


class AdminApplicationForm(ApplicationForm):
    """For the admin: every scope, restricted ones included."""

    offers_restricted_scopes = True
