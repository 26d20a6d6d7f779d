"""manage.py load_seeds: load the demo cases from seeds/cases.json (safe to run again)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from verify.seeds import DEFAULT_SEED_FILE, SeedError, load_seeds


class Command(BaseCommand):
    help = "Load the seed cases; running it again changes nothing unless the file changed."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_SEED_FILE, help="seed file (default: %(default)s)")

    def handle(self, *args, file: Path, **options):
        try:
            report = load_seeds(file)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(report.summary()))
