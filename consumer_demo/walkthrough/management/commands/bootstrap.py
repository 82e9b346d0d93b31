"""Everything consumer_demo needs before it serves (it has no database); both stacks run it on every start."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Collect static files."

    def handle(self, *args, **options):
        # Without --clear: nginx serves these files while this runs, so only files whose source
        # is newer are replaced and an unchanged file is never touched.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("consumer_demo bootstrapped")
