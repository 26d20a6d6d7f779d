"""Desk search over a filled archive: each kind of term's time against the list search it replaces, and index use.

A throwaway database (SQLite in a temporary folder, or a new database on the PostgreSQL server of
--database-url, dropped afterwards) is migrated and filled with bulk_create: --cases cases, two files
each with a random SHA-256, and one or two sightings each with a link, an account and a caption.
Then, for a full SHA-256, a 6- and a 10-digit prefix, a file name, an account, a link spelled with
tracking parameters and a word, it times `verify.search.finder.search` (best of --rounds) against the
baseline measured in the same run: the case list's former search (title, claim, sighting URL and
account, each `icontains`, joined with DISTINCT) on the same term. On PostgreSQL it also prints which
index the hash, link and account lookups use (EXPLAIN).

    .venv/bin/python bench/desk_search.py [--cases 20000] [--rounds 5]
        [--database-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from csv_export import BenchError, throwaway_database

BASE_DIR = Path(__file__).resolve().parent.parent
BATCH = 2000
WORDS = ["bridge", "column", "flooded", "convoy", "drone", "market", "station", "airfield", "harbour", "school"]
PLACES = ["Sudzha", "Kursk", "Belgorod", "Kharkiv", "Odesa", "Mariupol", "Kherson", "Sumy", "Izium", "Lyman"]


def setup_django(database_url: str, work: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "verify.settings",
            "DATABASE_URL": database_url,
            "VERIFY_DATA_DIR": str(work),
            "MEDIA_ROOT": str(work / "media"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-not-secret",
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def populate(cases: int) -> dict:
    from django.core.management import call_command

    from verify.models import Case, CaseMedia, MediaItem, Sighting
    from verify.search.normalise import url_key

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    counts = {"cases": 0, "files": 0, "sightings": 0}
    for first in range(0, cases, BATCH):
        numbers = range(first, min(first + BATCH, cases))
        made = Case.objects.bulk_create(
            Case(
                title=f"{WORDS[n % 10].capitalize()} near {PLACES[n // 10 % 10]} #{n}",
                claim=f"Footage shows a {WORDS[(n + 3) % 10]} hit in {PLACES[n % 10]} on day {n}",
                stage="triage",
            )
            for n in numbers
        )
        items = MediaItem.objects.bulk_create(
            MediaItem(
                sha256=hashlib.sha256(f"file {n} {side}".encode()).hexdigest(),
                kind="photo",
                size=1000 + n,
                original_name=f"{WORDS[n % 10]}_{n}_{side}.jpg",
                file=f"media/{n}-{side}",
            )
            for n in numbers
            for side in (0, 1)
        )
        CaseMedia.objects.bulk_create(
            CaseMedia(case=case, media_item=item)
            for case, pair in zip(made, zip(items[::2], items[1::2], strict=True), strict=True)
            for item in pair
        )
        sightings = []
        for case, n in zip(made, numbers, strict=True):
            for copy in range(1 + n % 2):
                url = f"https://t.me/channel_{n % 500}/{n * 10 + copy}"
                sightings.append(
                    Sighting(
                        case=case,
                        platform="telegram",
                        url=url,
                        url_key=url_key(url),
                        account=f"Channel_{n % 500}",
                        caption=f"{PLACES[(n + copy) % 10]}: {WORDS[(n + 7) % 10]} after the strike",
                    )
                )
        Sighting.objects.bulk_create(sightings)
        counts["cases"] += len(made)
        counts["files"] += len(items)
        counts["sightings"] += len(sightings)
    counts["seconds"] = time.perf_counter() - started
    return counts


def old_list_search(text: str) -> list:
    """The case list's search before the desk search: search_fields title, claim, sightings URL and account."""
    from django.db.models import Q

    from verify.models import Case

    found = (
        Q(title__icontains=text)
        | Q(claim__icontains=text)
        | Q(sightings__url__icontains=text)
        | Q(sightings__account__icontains=text)
    )
    return list(Case.objects.filter(found).distinct().order_by("-created_at", "-pk")[:50])


def best_of(rounds: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def explain_indexes(sql_and_params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql_and_params[0], sql_and_params[1])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    found = re.findall(r"Index (?:Only )?Scan using (\S+)|Bitmap Index Scan on (\S+)", plan)
    names = sorted({using or bitmap for using, bitmap in found})
    return ", ".join(names) or "none (sequential scan)"


def measure(cases: int, rounds: int) -> None:
    from django.db import connection
    from django.db.models.functions import Lower

    from verify.models import Case, MediaItem, Sighting
    from verify.search import finder
    from verify.search.normalise import prefix_upper_bound, url_key

    probe = cases // 2
    sha256 = hashlib.sha256(f"file {probe} 1".encode()).hexdigest()
    terms = {
        "full SHA-256": sha256,
        "SHA-256, 10 digits": sha256[:10],
        "SHA-256, 6 digits": sha256[:6],
        "file name": f"{WORDS[probe % 10]}_{probe}_1.jpg",
        "account": f"@channel_{probe % 500}",
        "link with tracking": f"HTTPS://T.me/channel_{probe % 500}/{probe * 10}/?utm_source=share",
        "a word": PLACES[3],
    }
    print(f"{'term':<22} {'desk search':>12} {'old list search':>16} {'ratio':>7}   found (cases/files/sightings)")
    for label, text in terms.items():
        term = finder.SearchTerm.parse(text)
        new, results = best_of(rounds, lambda term=term: finder.search(term))
        old, _ = best_of(rounds, lambda text=text: old_list_search(text))
        found = f"{len(results.cases)}/{len(results.files)}/{len(results.sightings)}"
        print(f"{label:<22} {new * 1000:>9.1f} ms {old * 1000:>13.1f} ms {new / old:>7.2f}   {found}")
    if connection.vendor != "postgresql":
        return
    connection.cursor().execute("ANALYZE")
    prefix = sha256[:6]
    lookups = {
        "SHA-256 prefix": MediaItem.objects.filter(sha256__gte=prefix, sha256__lt=prefix_upper_bound(prefix)),
        "link": Sighting.objects.filter(url_key=url_key(terms["link with tracking"])),
        "account": Sighting.objects.alias(a=Lower("account")).filter(a__in=["channel_7", "@channel_7"]),
        "a word (cases)": Case.objects.filter(finder.case_filter(finder.SearchTerm.parse(terms["a word"]))),
        "a word (files)": finder.files_matching(finder.SearchTerm.parse(terms["a word"])),
        "a word (sightings)": finder.sightings_matching(finder.SearchTerm.parse(terms["a word"])),
    }
    print("PostgreSQL indexes used:")
    for label, queryset in lookups.items():
        print(f"  {label:<20} {explain_indexes(queryset.query.sql_with_params())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL server for the throwaway database (default: SQLite)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-desk-search-"))
    try:
        with throwaway_database(args.database_url, work) as database_url:
            setup_django(database_url, work)
            filled = populate(args.cases)
            engine = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
            print(
                f"Database: {engine} (throwaway); {filled['cases']:,} cases, {filled['files']:,} files, "
                f"{filled['sightings']:,} sightings (filled in {filled['seconds']:.1f} s); best of {args.rounds}"
            )
            measure(args.cases, args.rounds)
            from django.db import connections

            connections.close_all()
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
