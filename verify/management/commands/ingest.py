"""manage.py ingest PATH... --case ID: preserve files (or whole folders) into a case."""

import sys
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from verify.intake import EmptyFile, IntakeError, NotTaken, ingest_path
from verify.management.arguments import case_and_user
from verify.workflow import WorkflowError

NOT_TAKEN = "not taken (database unavailable)"


def files_under(paths: list[Path], *, include_hidden: bool = False) -> tuple[list[Path], int]:
    """The files to take, and how many hidden ones (.DS_Store, anything in a .folder) inside folders were skipped.

    A file named on the command line is always taken, hidden or not.
    """
    found, hidden = [], 0
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if not p.is_file() or p.is_symlink():
                    continue
                if not include_hidden and any(part.startswith(".") for part in p.relative_to(path).parts):
                    hidden += 1
                    continue
                found.append(p)
        elif path.is_file():
            found.append(path)
        else:
            raise CommandError(f"{path}: no such file or folder")
    return found, hidden


class Command(BaseCommand):
    help = "Store files into a case by content (SHA-256), record custody and queue the metadata readers."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, help="files or folders (folders are read recursively)")
        parser.add_argument("--case", type=int, required=True, help="the case number")
        parser.add_argument("--as", dest="username", help="the desk user collecting the files (custody)")
        parser.add_argument(
            "--include-hidden",
            action="store_true",
            help="also take hidden files in folders (names starting with '.', and files inside hidden folders)",
        )

    def handle(self, *args, paths, case, username, include_hidden, **options):
        target, user = case_and_user(case, username)
        files, hidden = files_under(paths, include_hidden=include_hidden)
        if not files:
            skipped = f" ({hidden} hidden file(s) skipped; --include-hidden takes them)" if hidden else ""
            raise CommandError(f"No files found under the given paths{skipped}")
        outcomes: Counter[str] = Counter()
        problems = []
        for number, path in enumerate(files, start=1):
            try:
                result = ingest_path(case=target, path=path, by=user)
                outcomes[result.outcome] += 1
            except NotTaken as exc:
                outcomes[NOT_TAKEN] += 1
                problems.append(f"{path}: not taken: {exc}")
            except EmptyFile as exc:
                outcomes["empty, refused"] += 1
                problems.append(f"{path}: {exc}")
            except (IntakeError, WorkflowError, OSError) as exc:
                outcomes["refused"] += 1
                problems.append(f"{path}: {exc}")
            self._progress(number, len(files), path.name)
        self.stdout.write("")
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        self.stdout.write(self.style.SUCCESS(f"{len(files)} file(s) into case #{target.pk}: {summary}"))
        if hidden:
            self.stdout.write(f"{hidden} hidden file(s) skipped (names starting with '.'); --include-hidden takes them")
        for problem in problems:
            self.stderr.write(self.style.ERROR(problem))
        if outcomes[NOT_TAKEN]:
            raise CommandError(
                f"{outcomes[NOT_TAKEN]} file(s) not taken because the database was unavailable; "
                "run the same command again to take them (files already in are left as they are)"
            )
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
