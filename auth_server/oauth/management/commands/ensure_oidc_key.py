"""Create the RS256 signing key for ID tokens on first start; keep it across restarts."""

from django.core.management.base import BaseCommand

from oauth import signing_keys


class Command(BaseCommand):
    help = "Generate the OIDC RSA private key at OIDC_KEY_FILE unless it exists."

    def handle(self, *args, **options):
        path = signing_keys.key_file()
        if path.exists():
            self.stdout.write(f"OIDC key present at {path}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        signing_keys.write_private(path, signing_keys.new_private_key_pem())
        self.stdout.write(f"OIDC key generated at {path}")
