"""Check an evidence bundle offline: bag manifests, originals, the chain of events, timestamp tokens."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from verify.bundle.verify import verify_bundle


class Command(BaseCommand):
    help = (
        "Check an evidence bundle (a bag folder or its zip) from its own files alone, without the desk's "
        "database: prints one line per check, names every problem, and exits 1 if there is any."
    )
    # Nothing of the desk is needed, not even its database.
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The bag folder, or a .zip of one.")

    def handle(self, *args, path: Path, **options) -> None:
        started = time.monotonic()
        outcome = verify_bundle(path)
        for line in outcome.lines():
            self.stdout.write(line)
        seconds = time.monotonic() - started
        if not outcome.ok:
            raise CommandError(f"{len(outcome.problems)} problem(s) found in {path} ({seconds:.2f} s)", returncode=1)
        self.stdout.write(f"The bundle {path} holds up: every check passed ({seconds:.2f} s).")
