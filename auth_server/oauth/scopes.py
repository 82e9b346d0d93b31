"""Scopes per client: a client is only ever granted what its `allowed_scopes` lists.

Restricted scopes (settings.RESTRICTED_SCOPES, e.g. `introspection`) are granted only to a client
that lists them; a client with an empty list gets every other scope.
"""

from django.conf import settings
from oauth2_provider.scopes import SettingsScopes


class ApplicationScopes(SettingsScopes):
    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        all_scopes = super().get_available_scopes()
        if application is None:
            return [s for s in all_scopes if s not in settings.RESTRICTED_SCOPES]
        return application.available_scopes(all_scopes, settings.RESTRICTED_SCOPES)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        # Asked for nothing, a client gets the defaults it may have, or else everything it may have.
        available = self.get_available_scopes(application, request)
        return [s for s in super().get_default_scopes() if s in available] or available
