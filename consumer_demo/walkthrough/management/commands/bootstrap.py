"""Everything consumer_demo needs before it serves (it has no database); both stacks run it on every start."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Collect static files."

    def handle(self, *args, **options):
        call_command("collectstatic", interactive=False, clear=True, verbosity=0)
        self.stdout.write("consumer_demo bootstrapped")
