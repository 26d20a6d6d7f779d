"""Export verdict reports from the command line: CSV or JSON for a set of cases, PDF or JSON-LD for one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from verify.models import Case
from verify.reports import ReportError, load_report_case
from verify.reports.claimreview import claim_review, dumps
from verify.reports.csv import stream_csv
from verify.reports.json import stream_json
from verify.reports.pdf import render_pdf
from verify.workflow import WorkflowError, parse_stage

FORMATS = ("csv", "json", "pdf", "jsonld")
ONE_CASE_FORMATS = ("pdf", "jsonld")


def write_atomically(output: Path, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to a temporary file beside `output`, then rename it into place; on any failure
    the temporary file is removed and `output` is left as it was."""
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    written = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return written


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="Report format.")
        parser.add_argument("--case", type=int, help="Case id (required for pdf and jsonld).")
        parser.add_argument(
            "--stage", action="append", default=[], help="Only cases in this stage; repeat for several."
        )
        parser.add_argument("--output", required=True, type=Path, help="File to write (replaced atomically).")

    def handle(self, *args, fmt: str, case: int | None, stage: list[str], output: Path, **options) -> None:
        if not output.parent.is_dir():
            raise CommandError(f"The folder {output.parent} does not exist; nothing written")
        stages = self._stages(stage)
        if fmt in ONE_CASE_FORMATS and case is None:
            raise CommandError(f"--format {fmt} reports on one case; give it with --case ID")
        queryset = Case.objects.all().order_by("pk")
        if case is not None:
            queryset = queryset.filter(pk=case)
        if stages:
            queryset = queryset.filter(stage__in=stages)
        if not queryset.exists():
            raise CommandError(f"No case matches the filter ({self._describe(case, stages)}); nothing written")
        try:
            chunks = self._chunks(fmt, queryset, case)
            size = write_atomically(output, chunks)
        except ReportError as exc:
            raise CommandError(f"{exc}; nothing written") from exc
        self.stdout.write(f"Wrote {fmt} report of {self._describe(case, stages)} to {output} ({size:,} bytes)")

    def _stages(self, names: list[str]) -> list[str]:
        try:
            return [parse_stage(name).value for name in names]
        except WorkflowError as exc:
            raise CommandError(str(exc)) from exc

    def _describe(self, case: int | None, stages: list[str]) -> str:
        parts = [f"case #{case}" if case is not None else "all cases"]
        if stages:
            parts.append(f"in stage {' or '.join(stages)}")
        return " ".join(parts)

    def _chunks(self, fmt: str, queryset, case_id: int | None) -> Iterable[bytes]:
        if fmt == "csv":
            return stream_csv(queryset)
        if fmt == "json":
            return stream_json(queryset)
        case = load_report_case(case_id)
        # Rendered before the file is opened: a refusal leaves nothing behind.
        if fmt == "pdf":
            return [render_pdf(case)]
        # The same text as the report page's JSON-LD download.
        return [(dumps(claim_review(case), indent=2) + "\n").encode("utf-8")]
