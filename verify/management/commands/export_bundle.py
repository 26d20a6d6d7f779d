"""Write one case's evidence bundle: a BagIt bag anyone can check with `verify_bundle`, without the desk."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from verify.bundle.export import BundleError, export_bundle
from verify.units import human_bytes


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--case", type=int, required=True, help="Case id.")
        parser.add_argument(
            "--output", type=Path, required=True, help="Bag folder to create, or a .zip file to write (atomically)."
        )
        parser.add_argument(
            "--no-media",
            action="store_true",
            help="Leave the originals out: list them by SHA-256 and size in data/originals.tsv.",
        )

    def handle(self, *args, case: int, output: Path, no_media: bool, **options) -> None:
        exporter = f"{getpass.getuser()}@{socket.gethostname()} (command line)"
        try:
            exported = export_bundle(case_id=case, output=output, include_media=not no_media, exporter=exporter)
        except BundleError as exc:
            raise CommandError(str(exc)) from exc
        for warning in exported.warnings:
            self.stderr.write(f"Warning: {warning}")
        self.stdout.write(
            f"Wrote the evidence bundle of case #{case} to {exported.path}: {exported.payload_files:,} files, "
            f"{human_bytes(exported.payload_bytes)}{' (originals not included)' if no_media else ''}. "
            f"Check it with: python manage.py verify_bundle {exported.path}"
        )
