from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class OAuthConfig(AppConfig):
    name = "oauth"
    label = "oauth"
    verbose_name = "OAuth"

    def ready(self):
        from django.contrib.auth import get_user_model
        from oauth2_provider.models import get_access_token_model

        from oauth import audit, checks, login_guard, revocation  # noqa: F401 (checks registers itself)

        AccessToken = get_access_token_model()
        post_delete.connect(revocation.access_token_deleted, sender=AccessToken)
        post_save.connect(revocation.access_token_saved, sender=AccessToken)
        post_save.connect(revocation.user_saved, sender=get_user_model())
        audit.connect_auth_signals()
        login_guard.connect_signals()
