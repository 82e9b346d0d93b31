"""The janitor's command: django-oauth-toolkit's `cleartokens`, then the expired device requests it
leaves behind (DOT's clear_expired() has no clause for its DeviceGrant model)."""

from datetime import timedelta

from django.utils import timezone
from oauth2_provider.management.commands.cleartokens import Command as ClearTokens
from oauth2_provider.models import get_device_grant_model

# A device polling a little after its code expired still hears `expired_token`, not `invalid_grant`.
DEVICE_GRACE = timedelta(minutes=10)


class Command(ClearTokens):
    help = "Delete expired tokens and grants (DOT's cleartokens) and expired device requests"

    def handle(self, *args, **options):
        super().handle(*args, **options)
        deleted, _ = get_device_grant_model().objects.filter(expires__lt=timezone.now() - DEVICE_GRACE).delete()
        self.stdout.write(f"{deleted} expired device request(s) deleted")
