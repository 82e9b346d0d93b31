"""Everything auth_server needs before it serves; idempotent, so both stacks run it on every start."""

from django.core import checks
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Migrate, create the OIDC signing key, seed the demo users and clients, collect static files."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("ensure_oidc_key", stdout=self.stdout)
        # Now that the signing key exists, everything oauth/checks.py asks of a deployment must hold.
        # Django's and DOT's deployment advice is for operators (`manage.py check --deploy`): DOT's
        # refuses the plain-http redirect URIs the local stack needs.
        errors = [str(e) for e in checks.run_checks(include_deployment_checks=True)
                  if e.level >= checks.ERROR and e.id.startswith("oauth.")]
        if errors:
            raise CommandError("\n".join(errors))
        call_command("seed_demo", stdout=self.stdout)
        # Without --clear: nginx serves these files while this runs, so only files whose source
        # is newer are replaced and an unchanged file is never touched.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("auth_server bootstrapped")
