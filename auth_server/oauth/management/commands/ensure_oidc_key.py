"""Create the RS256 signing key for ID tokens on first start; keep it across restarts."""

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Generate the OIDC RSA private key at OIDC_KEY_FILE unless it exists."

    def handle(self, *args, **options):
        path = settings.OIDC_KEY_FILE
        if path.exists():
            self.stdout.write(f"OIDC key present at {path}")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written under a temporary name and renamed, so a concurrent reader never sees half a key.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, path)
        self.stdout.write(f"OIDC key generated at {path}")
