"""The case page of a big case: server time, HTML size and queries at 50 and 400 files, and the live refresh's payload.

Target (issue 12's Speed line, issue 14 target 5): the case page of a case with 400 files in
at most 300 ms of server time and 500 KB of HTML; the refresh while files are read sends
only what changed.

The database (`--database-url`, by default postgres://postgres@127.0.0.1:5432/verify_casepage,
dropped, created and migrated) holds two cases of `--sizes` files (50 and 400): photos with
their five readings finished, a GPS position on every third, a flag on every fifth, plus a
sighting, a reviewer and the checklist. Each page is requested in this process through
Django's test client (server time without the network), `--rounds` times after one warm-up;
the median counts. The baseline, measured in the same run, is the admin's case list.

Then the refresh: with one file of the 400 still being read, the page's live endpoint is
asked with the versions the page was drawn with: first while nothing changed, then after
that file's readings finish (one file's card, the flags, the progress and the story change),
then again once everything is read. Its payload is compared with the whole page's.

    .venv/bin/python bench/case_page.py [--sizes 50,400] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

TARGET_MS = 300
TARGET_BYTES = 500_000
READERS = ("c2pa", "exif", "forensics", "image", "perceptual")


def setup(database_url: str, work: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="verify.settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY="bench-" + secrets.token_hex(16),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        MEDIA_ROOT=str(work / "media"),
        VERIFY_DATA_DIR=str(work / "var"),
        STATIC_ROOT=str(work / "static"),
        CELERY_BROKER_URL="memory://",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    from web_load import reset_database

    reset_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Pages are drawn as in production, with hashed static names.
    call_command("collectstatic", verbosity=0, interactive=False)


def reading(name: str, number: int) -> dict:
    if name == "exif":
        gps = {"gps_latitude": 51.7 + number / 1e4, "gps_longitude": 36.19} if number % 3 == 0 else {}
        return {"make": "Apple", "model": "iPhone 13", "datetime_original": f"2024:10:18 08:4{number % 10}:00", **gps}
    if name == "image":
        return {"width": 4000, "height": 3000, "format": "JPEG"}
    if name == "c2pa":
        return {"present": False}
    return {"seconds": 0.1}


def make_case(files: int, reviewer, desk):
    from datetime import UTC, datetime

    from verify import services
    from verify.models import CaseMedia, Extraction, Flag, MediaItem

    case = services.open_case(
        by=desk,
        title=f"A case of {files} files",
        claim="Footage from many phones of the same strike.",
        claimed_place="Kursk",
        claimed_latitude=51.7304,
        claimed_longitude=36.1926,
        claimed_at=datetime(2024, 10, 18, 9, 0, tzinfo=UTC),
    )
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.add_sighting(case=case, by=desk, platform="telegram", account="@channel", url="https://t.me/c/1")
    items = MediaItem.objects.bulk_create(
        MediaItem(
            sha256=f"{number:012x}{files:052x}",
            kind="photo",
            mime_type="image/jpeg",
            size=2_000_000 + number,
            original_name=f"phone-{number}.jpg",
            file=f"originals/bench/{files}/{number}",
            width=4000,
            height=3000,
            device="Apple iPhone 13",
            captured_at_text=f"2024-10-18 08:4{number % 10}:00",
            gps_latitude=51.7 + number / 1e4 if number % 3 == 0 else None,
            gps_longitude=36.19 if number % 3 == 0 else None,
        )
        for number in range(files)
    )
    CaseMedia.objects.bulk_create(CaseMedia(case=case, media_item=item, added_by=desk) for item in items)
    now = datetime.now(UTC)
    Extraction.objects.bulk_create(
        Extraction(
            media_item=item,
            extractor=name,
            status="ok",
            result=reading(name, number),
            started_at=now,
            finished_at=now,
        )
        for number, item in enumerate(items)
        for name in READERS
    )
    Flag.objects.bulk_create(
        Flag(
            case=case,
            media_item=item,
            kind="editing-software",
            severity="medium" if number % 10 else "high",
            message="The file names editing software: Adobe Photoshop",
        )
        for number, item in enumerate(items)
        if number % 5 == 0
    )
    return case


def measure(client, path: str, rounds: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - started)
    return {"ms": statistics.median(times) * 1e3, "bytes": len(response.content), "queries": len(queries)}


def refresh_figures(client, case) -> None:
    from django.urls import reverse

    from verify import pipeline
    from verify.models import Extraction

    item = case.media_items.order_by("pk").last()
    item.extractions.update(status=Extraction.Status.PENDING, result={}, finished_at=None)
    page = client.get(reverse("admin:verify_case_change", args=[case.pk]))
    live = reverse("admin:verify_case_live", args=[case.pk])
    first = client.get(live).json()
    known = first["known"]
    print(f"  whole page while one file is read: {len(page.content):,} bytes")
    unchanged = client.get(live, {"known": known})
    print(f"  refresh, nothing changed:          HTTP {unchanged.status_code}, {len(unchanged.content):,} bytes")
    for extraction in item.extractions.all():
        Extraction.objects.filter(pk=extraction.pk).update(
            status=Extraction.Status.OK, result=reading(extraction.extractor, 0)
        )
    pipeline_finished = getattr(pipeline, "after_item_read", None)
    if pipeline_finished:
        pipeline_finished(item)
    changed = client.get(live, {"known": known})
    body = changed.json()
    print(
        f"  refresh, that file read:           HTTP {changed.status_code}, {len(changed.content):,} bytes "
        f"(sections: {', '.join(sorted(body['sections'])) or 'none'}; files: {len(body['files'])})"
    )
    again = client.get(live, {"known": body["known"]})
    print(f"  refresh, all read, nothing new:    HTTP {again.status_code}, {len(again.content):,} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/verify_casepage")
    parser.add_argument("--sizes", default="50,400")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-case-page-") as work:
        setup(args.database_url, Path(work))
        from django.conf import settings
        from django.contrib.auth.models import Group
        from django.test import Client
        from django.urls import reverse

        from tests.factories import make_user
        from verify.workflow import DESK, REVIEWER

        desk = make_user(DESK, username="bench-desk", first_name="Dana", last_name="Lee")
        reviewer = make_user(REVIEWER, username="bench-reviewer", first_name="Rafael", last_name="Ortiz")
        assert Group.objects.filter(name=DESK).exists()
        cases = {int(size): make_case(int(size), reviewer, desk) for size in args.sizes.split(",")}
        client = Client()
        client.force_login(desk)

        baseline = measure(client, reverse("admin:verify_case_changelist"), args.rounds)
        print(
            f"baseline, case list: {baseline['ms']:.0f} ms, {baseline['bytes']:,} bytes, {baseline['queries']} queries"
        )
        for size, case in cases.items():
            page = measure(client, reverse("admin:verify_case_change", args=[case.pk]), args.rounds)
            holds = page["ms"] <= TARGET_MS and page["bytes"] <= TARGET_BYTES
            print(
                f"case page, {size} files: {page['ms']:.0f} ms ({page['ms'] / baseline['ms']:.1f}× the list), "
                f"{page['bytes']:,} bytes, {page['queries']} queries"
                + (f" — target {'holds' if holds else 'MISSED'}" if size == max(cases) else "")
            )
            if size > settings.CASE_STORY_INLINE_FILES:
                # This page leaves its timeline and places to a click; what that click costs.
                story = measure(client, reverse("admin:verify_case_story", args=[case.pk]), args.rounds)
                print(
                    f"  its timeline and places, when opened: {story['ms']:.0f} ms "
                    f"({story['ms'] / baseline['ms']:.1f}× the list), {story['bytes']:,} bytes, "
                    f"{story['queries']} queries"
                )
        print(f"refresh of the {max(cases)}-file case:")
        refresh_figures(client, cases[max(cases)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
