"""Create (or bring up to date) the demo users and clients named in the environment.

Idempotent: run on every start. Secrets come from the git-ignored .env; only their hashes are stored.
"""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand
from django.db import transaction
from oauth2_provider.models import get_application_model

Application = get_application_model()


def _client(client_id, secret, **fields):
    # No owner: the consent page says the client was set up with the deployment, and it is managed
    # in the admin, not on anyone's /o/applications/.
    fields["user"] = None
    app, _ = Application.objects.get_or_create(client_id=client_id, defaults={**fields, "client_secret": secret})
    for name, value in fields.items():
        setattr(app, name, value)
    if not check_password(secret, app.client_secret):
        app.client_secret = secret
    app.save()
    return app


class Command(BaseCommand):
    help = "Seed the admin user, the demo user and the demo, API and load-test clients from the environment."

    @transaction.atomic
    def handle(self, *args, **options):
        env = os.environ
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username=env["ADMIN_USERNAME"])
        admin.is_staff = admin.is_superuser = True
        if not admin.check_password(env["ADMIN_PASSWORD"]):
            admin.set_password(env["ADMIN_PASSWORD"])
        admin.save()

        demo, _ = User.objects.get_or_create(
            username=env["DEMO_USERNAME"],
            defaults={"first_name": "Demo", "last_name": "User", "email": "demo@example.com"},
        )
        if not demo.check_password(env["DEMO_PASSWORD"]):
            demo.set_password(env["DEMO_PASSWORD"])
            demo.save()

        _client(
            env["DEMO_CLIENT_ID"], env["DEMO_CLIENT_SECRET"],
            name="Consumer demo",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=env["DEMO_REDIRECT_URI"],
            post_logout_redirect_uris=env["DEMO_REDIRECT_URI"].rsplit("/callback/", 1)[0] + "/",
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=False,
        )
        _client(
            env["API_CLIENT_ID"], env["API_CLIENT_SECRET"],
            name="Posts API (introspection)",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            redirect_uris="", allowed_scopes="introspection",
        )
        _client(
            env["LOADTEST_CLIENT_ID"], env["LOADTEST_CLIENT_SECRET"],
            name="Load test",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            redirect_uris="", allowed_scopes="read write",
        )
        self.stdout.write("demo data seeded")
