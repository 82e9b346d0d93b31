"""Run the revocation relay: copy revocations into Redis and heartbeat (oauth/revocation.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from oauth.revocation import relay_forever


class Command(BaseCommand):
    help = ("Copy every committed revocation into Redis as its marker and publish a heartbeat every "
            "REVOCATION_HEARTBEAT_INTERVAL seconds. Resource servers trust their Redis cache only while "
            "heartbeats arrive, so run one (or more: they agree) for as long as the auth server runs.")

    def handle(self, *args, **options):
        relay_forever(settings.REVOCATION_HEARTBEAT_INTERVAL)
