"""Everything resource_api needs before it serves; idempotent, so both stacks run it on every start."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate and collect static files."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        # Without --clear: nginx serves these files while this runs, so only files whose source
        # is newer are replaced and an unchanged file is never touched.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("resource_api bootstrapped")
