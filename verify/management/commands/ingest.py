"""manage.py ingest PATH... --case ID: preserve files (or whole folders) into a case."""

import sys
from collections import Counter
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from verify.intake import IntakeError, ingest_path
from verify.models import Case
from verify.workflow import WorkflowError


def files_under(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()))
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{path}: no such file or folder")
    return found


class Command(BaseCommand):
    help = "Store files into a case by content (SHA-256), record custody and queue the metadata readers."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, help="files or folders (folders are read recursively)")
        parser.add_argument("--case", type=int, required=True, help="the case number")
        parser.add_argument("--as", dest="username", help="the desk user collecting the files (custody)")

    def handle(self, *args, paths, case, username, **options):
        target = Case.objects.filter(pk=case).first()
        if target is None:
            raise CommandError(f"No case #{case} exists")
        user = None
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named {username!r}")
        files = files_under(paths)
        if not files:
            raise CommandError("No files found under the given paths")
        outcomes: Counter[str] = Counter()
        problems = []
        for number, path in enumerate(files, start=1):
            try:
                result = ingest_path(case=target, path=path, by=user)
                outcomes[result.outcome] += 1
            except (IntakeError, WorkflowError, OSError) as exc:
                outcomes["refused"] += 1
                problems.append(f"{path}: {exc}")
            self._progress(number, len(files), path.name)
        self.stdout.write("")
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(self.style.SUCCESS(f"{len(files)} file(s) into case #{target.pk}: {summary}"))
        for problem in problems:
            self.stderr.write(self.style.ERROR(problem))
        if problems and len(problems) == len(files):
            raise CommandError("No file could be stored")

    def _progress(self, done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // total
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:40]}"
        if sys.stdout.isatty():
            self.stdout.write(f"\r{line:<90}", ending="")
        else:
            self.stdout.write(line)
