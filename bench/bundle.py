"""verify_bundle time for a case of 50 files, against `sha256sum` and bagit's own validation of the same bag.

A throwaway SQLite database and MEDIA_ROOT in a temporary folder are migrated and filled the way
the desk fills them: 50 generated photos (JPEG, 1024x768 by default) go through the real intake
service (`verify.intake.ingest_stream`), so custody events and the chain are real; each photo's
readers are then run in this process (`pipeline.run_extraction`, no broker), unless
--skip-readings; the case is reviewed, its verdict proposed and approved, so the bundle holds
the frozen PDF, JSON and JSON-LD reports. The case is exported once (`export_bundle`), then
each round times, on the same bag:

- `verify_bundle` (`verify.bundle.verify.verify_bundle`): every check, as the command runs it;
- `sha256sum` over every payload file (what re-hashing the payload alone costs);
- bagit's `Bag.validate()` alone (the manifest check without the chain, originals or tokens).

Best of --rounds; the page cache is warm (the bag was just written). Figures printed, not asserted.

    .venv/bin/python bench/bundle.py [--files 50] [--width 1024] [--height 768] [--rounds 5]
        [--skip-readings] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MB = 1_000_000


def photo_bytes(width: int, height: int, seed: int) -> bytes:
    """A JPEG of blocks of colour with some noise: compresses like a photo, differs for every seed."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.effect_noise((width, height), 40).convert("RGB")
    draw = ImageDraw.Draw(image, "RGBA")
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(20, width // 3)
        colour = tuple(rng.randrange(256) for _ in range(3)) + (160,)
        draw.rectangle([x, y, x + size, y + size * 2 // 3], fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_case(files: int, width: int, height: int, read: bool) -> tuple[int, float, float]:
    """A published case of `files` photos made through the services: (case id, intake seconds, reading seconds)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from verify import intake, pipeline, services
    from verify.models import Case, ChecklistItem

    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    people = {}
    for role in ("desk", "reviewer", "editor"):
        people[role] = User.objects.create_user(f"bench-{role}", is_staff=True)
        people[role].groups.set(Group.objects.filter(name=role))
    desk, reviewer = people["desk"], people["reviewer"]
    # No broker: the readers run right here, below.
    pipeline.enqueue_pending = lambda item: 0
    case = services.open_case(by=desk, title="Bench: 50 photos", claim="Photos show a flooded street.")
    case = services.transition_case(case=case, to="triage", by=desk)
    started = time.perf_counter()
    items = []
    for n in range(files):
        source = io.BytesIO(photo_bytes(width, height, seed=n))
        result = intake.ingest_stream(
            case=case, source=source, original_name=f"photo-{n:02d}.jpg", by=desk, origin="bench"
        )
        items.append(result.media_item)
    intake_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if read:
        for item in items:
            for extraction in item.extractions.all():
                pipeline.run_extraction(extraction.pk)
    else:
        for item in items:
            item.extractions.update(status="unsupported", error="not read (bench --skip-readings)")
            pipeline.after_outcome(item)
    reading_seconds = time.perf_counter() - started
    case = Case.objects.get(pk=case.pk)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case.refresh_from_db()
    if case.stage != "in_review":
        case = services.transition_case(case=case, to="in_review", by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.CONFIRMED, notes="Bench.")
    services.propose_verdict(
        case=case,
        by=reviewer,
        rating="verified",
        confidence="high",
        summary="Bench verdict.",
        rationale="Bench rationale.",
        media_category="OriginalMediaContent",
    )
    case.refresh_from_db()
    services.approve_verdict(case=case, by=people["editor"], note="Bench approval.")
    return case.pk, intake_seconds, reading_seconds


def payload_files(bag: Path) -> list[Path]:
    return sorted(p for p in (bag / "data").rglob("*") if p.is_file())


def best_of(rounds: int, run) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-readings", action="store_true", help="Record no readings instead of running them.")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bundle-bench-", dir=args.dir))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "verify.settings",
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "VERIFY_DATA_DIR": str(work),
            "MEDIA_ROOT": str(work / "media"),
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    import logging

    logging.getLogger("bagit").setLevel(logging.WARNING)
    import bagit

    from verify.bundle.export import export_bundle
    from verify.bundle.verify import verify_bundle

    try:
        print(f"Building a published case of {args.files} photos in {work} ...", flush=True)
        case_id, intake_seconds, reading_seconds = build_case(
            args.files, args.width, args.height, read=not args.skip_readings
        )
        readings = "skipped" if args.skip_readings else f"run in this process in {reading_seconds:.1f} s"
        print(f"intake: {args.files} files in {intake_seconds:.1f} s; readings {readings}")
        bag = work / "bundle"
        started = time.perf_counter()
        exported = export_bundle(case_id=case_id, output=bag, include_media=True, exporter="bench")
        export_seconds = time.perf_counter() - started
        files = payload_files(bag)
        size = sum(p.stat().st_size for p in files)
        originals = len(list((bag / "data" / "originals").iterdir()))
        print(
            f"bundle: {len(files)} payload files ({originals} originals), {size / MB:.1f} MB; "
            f"export_bundle took {export_seconds:.2f} s"
        )
        outcome = verify_bundle(bag)
        if not outcome.ok:
            print("\n".join(outcome.lines()), file=sys.stderr)
            return 1
        verify_seconds = best_of(args.rounds, lambda: verify_bundle(bag))
        sha_seconds = best_of(
            args.rounds, lambda: subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
        )
        bagit_seconds = best_of(args.rounds, lambda: bagit.Bag(str(bag)).validate())
        zipped = work / "bundle.zip"
        export_bundle(case_id=case_id, output=zipped, include_media=True, exporter="bench")
        zip_seconds = best_of(args.rounds, lambda: verify_bundle(zipped))
        print(f"best of {args.rounds} rounds:")
        print(f"  verify_bundle (folder):        {verify_seconds:6.3f} s  ({size / MB / verify_seconds:,.0f} MB/s)")
        print(f"  verify_bundle (zip, unpacked): {zip_seconds:6.3f} s")
        print(f"  sha256sum over the payload:    {sha_seconds:6.3f} s  ({size / MB / sha_seconds:,.0f} MB/s)")
        print(f"  bagit Bag.validate() alone:    {bagit_seconds:6.3f} s")
        print(
            f"ratio verify_bundle / sha256sum: {verify_seconds / sha_seconds:.1f}; "
            f"verify_bundle / bagit validate: {verify_seconds / bagit_seconds:.2f}"
        )
        print(f"warnings from export: {exported.warnings or 'none'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
