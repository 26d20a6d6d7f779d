"""Exports of many cases (10,000 by default, 3 media each): time, rows/s, and peak RSS growth of the exporting process.

Targets (issue 14, item 6): CSV and JSON of 100,000 cases complete, at least 2,000 rows/s, peak RSS
growth under 50 MB. Reported, not asserted.

A throwaway database (SQLite in a temporary folder, or a new database on the PostgreSQL server of
--database-url, dropped afterwards) is migrated and filled: each case gets 3 media items with 2
readings each, 5 checklist answers and 3 custody events (their hash chain sealed as the desk seals
it); most get sightings, and about half a verdict (per-file media ratings on the published ones).
The rows are model instances with every field as the desk would store it, written with COPY on
PostgreSQL (100,000 cases in minutes rather than an hour of bulk_create) and bulk_create on SQLite.
Then, for each measurement, a fresh child process, which has done nothing else, runs it and reports
its RSS before and its peak (VmHWM / ru_maxrss) after:

- baseline: every row of the tables an export reads (cases, tags, media links, files, readings,
  sightings, verdicts, ratings, checklist answers, events, flags, publications) fetched through a
  plain database cursor and dropped: the floor any export of the same data stands on;
- job (the default --via): the background export job (`verify.exports.jobs.run_export`) writing the
  file to storage, as a worker does for a large export;
- stream: the streamed response (`verify.reports.csv.csv_response` / `json.json_response`) written
  to /dev/null, as the case list sends a small export.

With --before DIR (the code of an earlier commit, e.g. `git archive 7f311a5 | tar -x -C /tmp/verify-before`),
each export is also run with that checkout's code, just before this one's, on the same data.

    .venv/bin/python bench/csv_export.py [--cases 10000] [--media 3] [--format csv,json] [--via job|stream]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--before /tmp/verify-before]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import operator
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_GROWTH_MB = 50
TARGET_ROWS_PER_SECOND = 2000
MB = 1_000_000
BATCH = 2000


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"No {field} line in /proc/self/status")


def rss_kib() -> int:
    """This process's resident set size now (KiB)."""
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    """This process's peak resident set size so far (KiB): the kernel's high-water mark, as ru_maxrss."""
    return max(_status_kib("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- the throwaway database ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(server_url: str | None, work: Path) -> Iterator[str]:
    """A new, empty database for this run: SQLite in `work`, or a new database on `server_url`'s server."""
    if not server_url:
        yield f"sqlite:///{work / 'bench.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    name = f"bench_exports_{secrets.token_hex(4)}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL at {parts.hostname}:{parts.port or 5432} is not reachable: {exc}") from exc
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def child_env(database_url: str, work: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "verify.settings",
        "DATABASE_URL": database_url,
        "VERIFY_DATA_DIR": str(work),
        "MEDIA_ROOT": str(work / "media"),
        # DEBUG off: with it on, Django keeps every query's SQL in memory.
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-not-secret",
        "LOG_LEVEL": "WARNING",
    }


def run_child(step: str, args: argparse.Namespace, env: dict, code: Path = BASE_DIR) -> dict:
    """Run `step` in a fresh process, with the desk's code from the checkout `code` (this one by default)."""
    command = [sys.executable, __file__, "--child", step, "--cases", str(args.cases), "--media", str(args.media)]
    command += ["--format", args.format, "--via", args.via, "--code", str(code)]
    if args.chunk_size:
        command += ["--chunk-size", str(args.chunk_size)]
    done = subprocess.run(command, env=env, cwd=code, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"the {step} step failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- child: fill the database ----------------------------------------------------------------------------------------


class _Ids:
    """The next primary key of each table: the fill sets ids itself, so that COPY can write related rows."""

    def __init__(self) -> None:
        self.last: dict[type, int] = {}

    def take(self, model) -> int:
        self.last[model] = self.last.get(model, 0) + 1
        return self.last[model]


def _value_reader(field, connection):
    """How COPY gets `field`'s value from an object: as it is for the types psycopg sends as they are,
    else prepared as an INSERT prepares it (JSON, files, auto_now times)."""
    from django.db import models

    plain = (models.AutoField, models.CharField, models.TextField, models.IntegerField, models.BooleanField)
    plain += (models.FloatField, models.ForeignKey)
    if isinstance(field, plain) or (isinstance(field, models.DateTimeField) and not field.auto_now):
        return operator.attrgetter(field.attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)


def store(model, objects: list) -> None:
    """Write `objects` (unsaved, their ids set) as they are: with COPY on PostgreSQL, else bulk_create."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects, batch_size=500)
        return
    fields = model._meta.concrete_fields
    readers = [_value_reader(field, connection) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            copy.write_row([read(obj) for read in readers])


def seal_new_cases(events: list) -> None:
    """As `verify.record.chain.seal`, for events of cases that have none yet: their chains start at GENESIS,
    so the fill needs no query per case for the head."""
    from verify.record import chain

    heads: dict[int, str] = {}
    for event in events:
        event.old, event.new = chain.plain_json(event.old), chain.plain_json(event.new)
        event.previous_digest = heads.get(event.case_id, chain.GENESIS)
        event.digest = chain.digest_of(**chain.content_of(event))
        heads[event.case_id] = event.digest


def reset_sequences(models: list) -> None:
    """After rows written with their own ids, the next id each table hands out follows the last one."""
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)
        if connection.vendor == "postgresql":
            # As autovacuum would have by the time a desk exports, so that the planner knows the tables' sizes.
            cursor.execute("ANALYZE")


def populate(cases: int, media_per_case: int) -> dict:
    from datetime import UTC, datetime, timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from verify.models import (
        Case,
        CaseEvent,
        CaseMedia,
        ChecklistItem,
        Extraction,
        MediaItem,
        MediaRating,
        Sighting,
        Tag,
        Verdict,
    )
    from verify.workflow import Stage

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    author = User.objects.create_user("bench-reviewer", first_name="Bench", last_name="Reviewer")
    approver = User.objects.create_user("bench-editor", first_name="Bench", last_name="Editor")
    tags = [Tag.objects.get_or_create(name=name)[0] for name in ("kursk", "ukraine", "gaza", "flood", "election")]
    base = datetime(2024, 1, 1, tzinfo=UTC)
    stages = [Stage.PUBLISHED, Stage.PUBLISHED, Stage.AWAITING_APPROVAL, Stage.IN_REVIEW, Stage.TRIAGE]
    counts = dict.fromkeys(("cases", "media", "readings", "sightings", "verdicts", "events", "checklist"), 0)
    ids = _Ids()
    CaseTag = Case.tags.through
    filled = [Case, CaseTag, MediaItem, CaseMedia, Extraction, Sighting, ChecklistItem, Verdict, MediaRating, CaseEvent]

    for first in range(0, cases, BATCH):
        numbers = range(first, min(first + BATCH, cases))
        batch = [
            Case(
                id=ids.take(Case),
                # Every 50th title would start a formula, so the escaping runs too.
                title=('=HYPERLINK("http://x")' if n % 50 == 0 else f"Case {n}: footage from the front"),
                claim=f"Video {n} shows soldiers training near the border; shared widely on Telegram and X.",
                stage=stages[n % len(stages)],
                priority=n % 4,
                claimed_place="Kursk oblast",
                claimed_at=base + timedelta(hours=n),
                created_at=base + timedelta(hours=n, minutes=5),
            )
            for n in numbers
        ]
        case_tags = [
            CaseTag(id=ids.take(CaseTag), case_id=case.pk, tag_id=tags[(n + k) % len(tags)].pk)
            for n, case in zip(numbers, batch, strict=True)
            for k in range(2)
        ]
        items = [
            MediaItem(
                id=ids.take(MediaItem),
                sha256=f"{n * media_per_case + m:064x}",
                kind="photo" if m else "video",
                mime_type="image/jpeg" if m else "video/mp4",
                size=1_000_000 + m,
                original_name=f"case{n}-file{m}.jpg",
                file=f"originals/{n}/{m}",
                device="Apple iPhone 12",
                software="Instagram",
                captured_at_text="2024:01:01 10:00:00+02:00",
                gps_latitude=51.7 if m == 1 else None,
                gps_longitude=36.2 if m == 1 else None,
                width=1920,
                height=1080,
            )
            for n in numbers
            for m in range(media_per_case)
        ]
        links = [
            CaseMedia(id=ids.take(CaseMedia), case_id=batch[i // media_per_case].pk, media_item_id=item.pk)
            for i, item in enumerate(items)
        ]
        readings = [
            Extraction(id=ids.take(Extraction), media_item_id=item.pk, extractor=extractor, status="ok", result=result)
            for item in items
            for extractor, result in (("exif", {"make": "Apple"}), ("c2pa", {"present": False}))
        ]
        sightings = [
            Sighting(
                id=ids.take(Sighting),
                case_id=case.pk,
                media_item_id=items[i * media_per_case + s].pk,
                url=f"https://t.me/channel{n % 97}/{n}{s}",
                platform="telegram",
                account=f"channel{n % 97}",
                posted_at=base + timedelta(hours=n, minutes=s),
                caption="-- look at this",
            )
            for i, (n, case) in enumerate(zip(numbers, batch, strict=True))
            if n % 10 < 7
            for s in range(min(2, media_per_case))
        ]
        checklist = [
            ChecklistItem(
                id=ids.take(ChecklistItem),
                case_id=case.pk,
                key=key,
                prompt=f"{key}?",
                status="confirmed",
                notes="checked",
            )
            for case in batch
            for key in ("provenance", "source", "date", "location", "motivation")
        ]
        judged = [(i, case) for i, case in enumerate(batch) if case.stage in (Stage.PUBLISHED, Stage.AWAITING_APPROVAL)]
        verdicts = [
            Verdict(
                id=ids.take(Verdict),
                case_id=case.pk,
                number=1,
                rating="misleading",
                confidence="high",
                summary="+ Old footage from 2021.",
                rationale="Found on YouTube in 2021.",
                media_category="DecontextualizedContent",
                author_id=author.pk,
                status="approved" if case.stage == Stage.PUBLISHED else "proposed",
                reviewed_by_id=approver.pk if case.stage == Stage.PUBLISHED else None,
                reviewed_at=base if case.stage == Stage.PUBLISHED else None,
            )
            for _, case in judged
        ]
        ratings = [
            MediaRating(
                id=ids.take(MediaRating),
                verdict_id=verdict.pk,
                media_item_id=items[i * media_per_case].pk,
                category="DecontextualizedContent",
            )
            for (i, case), verdict in zip(judged, verdicts, strict=True)
            if case.stage == Stage.PUBLISHED
        ]
        events = [
            CaseEvent(id=ids.take(CaseEvent), case=case, kind=kind, actor=author, media_item=item)
            for i, case in enumerate(batch)
            for kind, item in (
                (CaseEvent.Kind.OPENED, None),
                (CaseEvent.Kind.MEDIA_COLLECTED, items[i * media_per_case]),
                (CaseEvent.Kind.STAGE_CHANGED, None),
            )
        ]
        seal_new_cases(events)
        with transaction.atomic():
            for model, objects in zip(
                filled,
                (batch, case_tags, items, links, readings, sightings, checklist, verdicts, ratings, events),
                strict=True,
            ):
                store(model, objects)
        counts["cases"] += len(batch)
        counts["media"] += len(items)
        counts["readings"] += len(readings)
        counts["sightings"] += len(sightings)
        counts["verdicts"] += len(verdicts)
        counts["events"] += len(events)
        counts["checklist"] += len(checklist)
    reset_sequences(filled)
    counts["seconds"] = time.perf_counter() - started
    return counts


# --- child: the measured export --------------------------------------------------------------------------------------


BASELINE_TABLES = (
    "verify_case",
    "verify_case_tags",
    "verify_casemedia",
    "verify_mediaitem",
    "verify_extraction",
    "verify_sighting",
    "verify_verdict",
    "verify_mediarating",
    "verify_checklistitem",
    "verify_caseevent",
    "verify_flag",
    "verify_publication",
)


class _Counted:
    """Counts the SQL queries run inside it."""

    def __init__(self) -> None:
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)


def measured(run) -> dict:
    """Time `run()` (which returns the rows and bytes it made) and the process's memory around it."""
    from django.db import connection

    gc.collect()
    counter = _Counted()
    rss_before, peak_before = rss_kib(), peak_rss_kib()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        rows, size = run()
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "rows": rows,
        "bytes": size,
        "queries": counter.queries,
        "rss_before_kib": rss_before,
        "peak_before_kib": peak_before,
        "rss_after_kib": rss_kib(),
        "peak_after_kib": peak_rss_kib(),
    }


def baseline() -> dict:
    from django.db import connection

    connection.ensure_connection()

    def read_all() -> tuple[int, int]:
        cases = 0
        with connection.cursor() as cursor:
            for table in BASELINE_TABLES:
                cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - the table names above
                while batch := cursor.fetchmany(BATCH):
                    if table == "verify_case":
                        cases += len(batch)
        return cases, 0

    return measured(read_all) | {"what": "baseline"}


def export_job(fmt: str, chunk_size: int | None) -> dict:
    from django.contrib.auth import get_user_model

    from verify.exports import jobs, writer
    from verify.models import Case, ExportJob

    if chunk_size:
        writer.CHUNK_SIZE = chunk_size
    by = get_user_model().objects.get(username="bench-editor")
    case_ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    # Warm up as a running worker would be: modules imported, one case exported.
    jobs.run_export(jobs.request_export(by=by, fmt=fmt, case_ids=case_ids[:1], send_now=False).pk)
    job_id = jobs.request_export(by=by, fmt=fmt, case_ids=case_ids, send_now=False).pk
    del case_ids

    def run() -> tuple[int, int]:
        jobs.run_export(job_id)
        job = ExportJob.objects.get(pk=job_id)
        if job.status != ExportJob.Status.DONE:
            raise BenchError(f"the export job ended {job.status}: {job.reason}")
        return job.rows_done, job.size

    return measured(run) | {"what": f"{fmt} job", "chunk_size": writer.CHUNK_SIZE}


def export_stream(fmt: str, chunk_size: int | None) -> dict:
    from verify.models import Case
    from verify.reports import csv as csv_report
    from verify.reports import json as json_report
    from verify.reports.csv import csv_response
    from verify.reports.json import json_response

    if chunk_size:
        csv_report.CHUNK_SIZE = json_report.CHUNK_SIZE = chunk_size
    respond = csv_response if fmt == "csv" else json_response
    # Warm up as a running web process would be: URLconf loaded, modules imported, one case exported.
    for _chunk in respond(Case.objects.filter(pk=Case.objects.order_by("pk").values("pk")[:1]), "warm-up"):
        pass

    def run() -> tuple[int, int]:
        size = 0
        with open(os.devnull, "wb") as sink:
            for chunk in respond(Case.objects.all(), f"bench.{fmt}"):
                sink.write(chunk)
                size += len(chunk)
        return Case.objects.count(), size

    chunk = (csv_report if fmt == "csv" else json_report).CHUNK_SIZE
    return measured(run) | {"what": f"{fmt} stream", "chunk_size": chunk}


def child(step: str, args: argparse.Namespace) -> int:
    sys.path.insert(0, args.code or str(BASE_DIR))
    import django

    django.setup()
    if step == "populate":
        result = populate(args.cases, args.media)
    elif step == "baseline":
        result = baseline()
    elif args.via == "job":
        result = export_job(args.format, args.chunk_size)
    else:
        result = export_stream(args.format, args.chunk_size)
    print(json.dumps(result))
    return 0


# --- the parent: set up, run, print ----------------------------------------------------------------------------------


def mb(kib: int) -> str:
    return f"{kib * 1024 / MB:.1f} MB"


def report_data(database_url: str, filled: dict) -> None:
    engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(f"Database: {engine} (throwaway)")
    print(
        f"Data: {filled['cases']:,} cases, {filled['media']:,} media items, {filled['readings']:,} readings, "
        f"{filled['sightings']:,} sightings, {filled['verdicts']:,} verdicts, {filled['checklist']:,} checklist "
        f"answers, {filled['events']:,} events (filled in {filled['seconds']:.1f} s)"
    )


def report(result: dict, base: dict, cases: int) -> None:
    growth_kib = result["peak_after_kib"] - result["rss_before_kib"]
    complete = "complete" if result["rows"] == cases else f"INCOMPLETE ({result['rows']:,} of {cases:,})"
    print(f"{result['what']}: {result['rows']:,} cases, {complete}")
    print(f"  time:        {result['seconds']:.2f} s ({result['seconds'] / base['seconds']:.1f}x the baseline read)")
    print(f"  rows/s:      {result['rows'] / result['seconds']:,.0f} (target >= {TARGET_ROWS_PER_SECOND:,})")
    if result["bytes"]:
        print(f"  output:      {result['bytes'] / MB:.1f} MB")
    print(f"  SQL queries: {result['queries']:,} (read {result.get('chunk_size', BATCH)} cases at a time)")
    print(f"  RSS before:  {mb(result['rss_before_kib'])}, after {mb(result['rss_after_kib'])}")
    verdict = "holds" if growth_kib * 1024 < TARGET_GROWTH_MB * MB else "MISSED"
    print(f"  peak growth: {mb(growth_kib)} (target < {TARGET_GROWTH_MB} MB: {verdict})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--media", type=int, default=3, help="media items per case")
    parser.add_argument("--format", default="csv,json", help="csv, json, or both (csv,json)")
    parser.add_argument("--via", choices=("job", "stream"), default="job", help="the background job or the stream")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to create the throwaway database on (default: SQLite)"
    )
    parser.add_argument("--chunk-size", type=int, help="cases read per chunk (default: the module's CHUNK_SIZE)")
    parser.add_argument(
        "--before",
        type=Path,
        help="the code of an earlier commit (git archive COMMIT | tar -x -C DIR): each export also runs with its "
        "verify package, just before this one's, on the same data",
    )
    parser.add_argument("--child", choices=("populate", "baseline", "export"), help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args)
    work = Path(tempfile.mkdtemp(prefix="bench-csv-export-"))
    try:
        with throwaway_database(args.database_url, work) as database_url:
            env = child_env(database_url, work)
            filled = run_child("populate", args, env)
            report_data(database_url, filled)
            base = run_child("baseline", args, env)
            print(
                f"baseline: every row of the {len(BASELINE_TABLES)} tables read through a cursor in "
                f"{base['seconds']:.2f} s ({base['rows'] / base['seconds']:,.0f} cases/s), "
                f"peak growth {mb(base['peak_after_kib'] - base['rss_before_kib'])}"
            )
            for fmt in args.format.split(","):
                step_args = argparse.Namespace(**{**vars(args), "format": fmt})
                if args.before:
                    before = run_child("export", step_args, env, code=args.before.resolve())
                    report(before | {"what": f"{before['what']} (before, {args.before})"}, base, filled["cases"])
                report(run_child("export", step_args, env), base, filled["cases"])
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
