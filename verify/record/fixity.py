"""Fixity: re-hash the stored files against the SHA-256 recorded for them, and act on a mismatch.

An original's expected SHA-256 is its content address; a derived file's is recorded when its
reader writes it (`record_derived`). A mismatch (or a missing file) marks the file damaged,
raises a high-severity flag on every case holding it and records an event on each; a damaged
original is never served as the original. Re-ingesting the identical bytes repairs it
(`repair_from_intake`); re-running the reader regenerates a derived file.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from verify.models import Case, CaseEvent, Flag, MediaItem
from verify.record import chain
from verify.record.models import FixityCheck, StoredFile

log = logging.getLogger(__name__)

# A flag kind of its own: flags.recompute_flags and similarity rewrite only their own kinds,
# so a damaged-file flag stands until the file is repaired.
FILE_DAMAGED = "file-damaged"
CHUNK_BYTES = 1024 * 1024


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def rehash(path: Path) -> tuple[str, int]:
    """(SHA-256, size) of the file at `path`, read in 1 MiB chunks into one reused buffer."""
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as source:
        while read := source.readinto(buffer):
            digest.update(view[:read])
            size += read
    return digest.hexdigest(), size


def _original_relpath(item: MediaItem) -> str:
    sha = item.sha256
    return item.file.name or f"originals/{sha[:2]}/{sha[2:4]}/{sha}"


def track_originals() -> int:
    """Give every media item its original's StoredFile row (items collected before fixity existed)."""
    has_row = StoredFile.objects.filter(media_item=OuterRef("pk"), role=StoredFile.Role.ORIGINAL)
    rows = [
        StoredFile(
            media_item=item,
            role=StoredFile.Role.ORIGINAL,
            path=_original_relpath(item),
            sha256=item.sha256,
            size=item.size,
        )
        for item in MediaItem.objects.filter(~Exists(has_row)).iterator()
    ]
    StoredFile.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def original_of(item: MediaItem) -> StoredFile:
    row = StoredFile.objects.filter(media_item=item, role=StoredFile.Role.ORIGINAL).first()
    if row is None:
        row, _ = StoredFile.objects.get_or_create(
            path=_original_relpath(item),
            defaults={"media_item": item, "role": StoredFile.Role.ORIGINAL, "sha256": item.sha256, "size": item.size},
        )
    return row


def forget_derived(item: MediaItem, extractor: str) -> None:
    """Before a reader rewrites its files: drop their records, so that a check in between finds
    nothing missing; a damaged one is being regenerated, so its mark and flags go too."""
    rows = StoredFile.objects.filter(media_item=item, role=StoredFile.Role.DERIVED, extractor=extractor)
    if not rows.exists():
        return  # a file's first reading: one query, where the deletion below takes three
    with transaction.atomic():
        for damaged in rows.filter(damaged_at__isnull=False):
            mark_repaired(damaged, by=None, how=f"the {extractor} reader runs again and writes it anew")
        rows.delete()


def record_derived(item: MediaItem, extractor: str, out_dir: Path) -> list[StoredFile]:
    """Record the SHA-256 of each file a reader has just written for `item`, replacing its earlier ones."""
    now = timezone.now()
    rows = []
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        sha256, size = rehash(path)
        rows.append(
            StoredFile(
                media_item=item,
                role=StoredFile.Role.DERIVED,
                extractor=extractor,
                path=str(path.relative_to(media_root())),
                sha256=sha256,
                size=size,
                recorded_at=now,
                last_checked_at=now,
            )
        )
    with transaction.atomic():
        forget_derived(item, extractor)
        return StoredFile.objects.bulk_create(rows)


def track_untracked_derived() -> int:
    """Record derived files written before their SHA-256 was kept, as they are now (trust on first sight)."""
    root = media_root() / "derived"
    if not root.is_dir():
        return 0
    known = set(StoredFile.objects.filter(role=StoredFile.Role.DERIVED).values_list("path", flat=True))
    items: dict[str, MediaItem | None] = {}
    recorded = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(media_root())
        # derived/<sha[:2]>/<sha>/<extractor>/<name>
        parts = relative.parts
        if str(relative) in known or len(parts) < 5:
            continue
        sha = parts[2]
        if sha not in items:
            items[sha] = MediaItem.objects.filter(sha256=sha).first()
        if items[sha] is None:
            continue
        sha256, size = rehash(path)
        StoredFile.objects.get_or_create(
            path=str(relative),
            defaults={
                "media_item": items[sha],
                "role": StoredFile.Role.DERIVED,
                "extractor": parts[3],
                "sha256": sha256,
                "size": size,
            },
        )
        recorded += 1
    return recorded


def cases_holding(item: MediaItem) -> list[Case]:
    return list(Case.objects.filter(media_items=item).order_by("pk"))


def _file_words(stored: StoredFile) -> str:
    if stored.role == StoredFile.Role.ORIGINAL:
        return f"the stored original of {stored.media_item.original_name or stored.media_item.sha256[:12]}"
    return f"the {stored.extractor} reader's derived file {Path(stored.path).name}"


def _flag_message(stored: StoredFile) -> str:
    if stored.role == StoredFile.Role.ORIGINAL:
        return (
            f"The stored original no longer matches its SHA-256 {stored.sha256[:12]}…: {stored.damage}. "
            "It is not served as the original until it is repaired; ingest the original file again to repair it."
        )
    return (
        f"A derived file ({stored.extractor}: {Path(stored.path).name}) no longer matches the SHA-256 recorded when "
        f"it was written: {stored.damage}. Previews and readings drawn from it cannot be trusted; re-run the "
        f"{stored.extractor} reader to regenerate it."
    )


def _event_data(stored: StoredFile) -> dict:
    return {"file": stored.path, "role": stored.role, "sha256": stored.sha256, "size": stored.size}


def mark_damaged(stored: StoredFile, problem: str) -> bool:
    """Mark the file damaged, flag it high on every case holding it, and record the finding once on each.

    False if the file's record is gone meanwhile (a reader rewriting its derived files).
    """
    from verify import services

    with transaction.atomic():
        stored = StoredFile.objects.select_for_update().select_related("media_item").filter(pk=stored.pk).first()
        if stored is None:
            return False
        first_finding = stored.damaged_at is None
        stored.damaged_at = stored.damaged_at or timezone.now()
        stored.damage = problem
        stored.save(update_fields=["damaged_at", "damage"])
        item = stored.media_item
        for case in cases_holding(item):
            flag = Flag.objects.filter(case=case, media_item=item, kind=FILE_DAMAGED, data__path=stored.path)
            if flag.exists():
                flag.update(message=_flag_message(stored))
            else:
                Flag.objects.create(
                    case=case,
                    media_item=item,
                    kind=FILE_DAMAGED,
                    severity=Flag.Severity.HIGH,
                    message=_flag_message(stored),
                    data={"path": stored.path, "role": stored.role, "sha256": stored.sha256},
                )
            if first_finding:
                services.record_event(
                    case=case,
                    kind=CaseEvent.Kind.FILE_DAMAGED,
                    by=None,
                    media_item=item,
                    old=_event_data(stored),
                    new={"found": problem},
                    note=f"The fixity check found {_file_words(stored)} damaged: {problem}",
                )
    return True


def mark_repaired(stored: StoredFile, *, by, how: str) -> None:
    """Clear the damaged mark and its flags, recording the repair on every case holding the file."""
    from verify import services

    with transaction.atomic():
        stored = StoredFile.objects.select_for_update().select_related("media_item").get(pk=stored.pk)
        was_damaged = stored.damaged_at is not None
        stored.damaged_at, stored.damage, stored.last_checked_at = None, "", timezone.now()
        stored.save(update_fields=["damaged_at", "damage", "last_checked_at"])
        item = stored.media_item
        Flag.objects.filter(media_item=item, kind=FILE_DAMAGED, data__path=stored.path).delete()
        for case in cases_holding(item):
            services.record_event(
                case=case,
                kind=CaseEvent.Kind.FILE_REPAIRED,
                by=by,
                media_item=item,
                new={**_event_data(stored), "was_marked_damaged": was_damaged},
                note=f"{_file_words(stored).capitalize()} was repaired: {how}",
            )


def check_file(stored: StoredFile) -> tuple[int, dict | None]:
    """Re-hash one stored file: (bytes read, the finding or None). Marks it damaged or repaired as it finds it."""
    path = media_root() / stored.path
    size = 0
    try:
        found, size = rehash(path)
    except FileNotFoundError:
        problem = "the file is missing"
    except OSError as exc:
        problem = f"the file cannot be read ({exc.strerror or exc})"
    else:
        problem = None
        if found != stored.sha256:
            problem = (
                f"its {size:,} bytes now hash to {found[:12]}…, not the recorded {stored.sha256[:12]}… "
                f"({stored.size:,} bytes)"
            )
    StoredFile.objects.filter(pk=stored.pk).update(last_checked_at=timezone.now())
    if problem is None:
        if stored.is_damaged:
            mark_repaired(stored, by=None, how="the fixity check found it intact again")
        return size, None
    if not mark_damaged(stored, problem):
        return size, None
    item = stored.media_item
    name = item.original_name if stored.role == StoredFile.Role.ORIGINAL else f"{stored.extractor}/{Path(path).name}"
    return size, {
        "what": "file",
        "role": stored.role,
        "sha256": stored.sha256,
        "path": stored.path,
        "name": name,
        "cases": [case.pk for case in cases_holding(item)],
        "problem": problem,
    }


def describe(finding: dict) -> str:
    """One line naming a finding: the file (SHA-256 prefix, name, cases) or the chain link."""
    if finding["what"] == "file":
        cases = ", ".join(f"#{pk}" for pk in finding["cases"]) or "no case"
        return (
            f"MISMATCH {finding['role']} {finding['sha256'][:12]} {finding['name']} (cases {cases}): "
            f"{finding['problem']}"
        )
    return f"BROKEN CHAIN case #{finding['case']} event #{finding['event']}: {finding['problem']}"


def run_pass(*, scope: str, files, case_ids: list[int] | None) -> FixityCheck:
    """Check `files` and the chains of `case_ids` (every case for None); record and return the pass."""
    started = time.monotonic()
    check = FixityCheck(scope=scope, started_at=timezone.now())
    findings = []
    for stored in files:
        size, finding = check_file(stored)
        check.bytes_checked += size
        if stored.role == StoredFile.Role.ORIGINAL:
            check.originals_checked += 1
        else:
            check.derived_checked += 1
        if finding:
            findings.append(finding)
    check.events_checked, check.cases_checked, breaks = chain.verify(case_ids)
    findings += [{"what": "chain", "case": b.case_id, "event": b.event_id, "problem": b.problem} for b in breaks]
    check.findings = findings
    check.last_case_id = case_ids[-1] if case_ids else None
    check.seconds = round(time.monotonic() - started, 3)
    check.save()
    for finding in findings:
        log.error("Fixity: %s", describe(finding))
    return check


def check_everything() -> FixityCheck:
    """Every stored original and derived file, and every case's chain."""
    track_originals()
    track_untracked_derived()
    return run_pass(scope=FixityCheck.Scope.FULL, files=_every_stored_file(), case_ids=None)


def _every_stored_file(batch: int = 500):
    """Every StoredFile, fetched in batches by id: no cursor stays open while checking writes."""
    after = 0
    while rows := list(StoredFile.objects.select_related("media_item").filter(pk__gt=after).order_by("pk")[:batch]):
        yield from rows
        after = rows[-1].pk


def passes_per_period() -> int:
    return max(1, settings.FIXITY_PERIOD_HOURS * 60 // max(1, settings.FIXITY_SLICE_MINUTES))


def check_next_slice() -> FixityCheck:
    """Beat's pass: the files checked longest ago and the next cases' chains, sized so that
    consecutive passes cover the whole archive once every FIXITY_PERIOD_HOURS."""
    track_originals()
    passes = passes_per_period()
    file_count = math.ceil(StoredFile.objects.count() / passes)
    files = StoredFile.objects.select_related("media_item").order_by(F("last_checked_at").asc(nulls_first=True), "pk")[
        :file_count
    ]
    case_count = math.ceil(Case.objects.count() / passes)
    after = (
        FixityCheck.objects.filter(scope=FixityCheck.Scope.SLICE)
        .order_by("-started_at", "-pk")
        .values_list("last_case_id", flat=True)
        .first()
    ) or 0
    case_ids = list(Case.objects.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:case_count])
    if len(case_ids) < case_count:  # wrap round to the first cases
        more = Case.objects.filter(pk__lte=after).order_by("pk").values_list("pk", flat=True)
        case_ids += list(more[: case_count - len(case_ids)])
    return run_pass(scope=FixityCheck.Scope.SLICE, files=list(files), case_ids=case_ids)


def serving_problem(stored: StoredFile) -> str | None:
    """Why the file must not be served, or None. Re-hashes it now: serving is when bytes leave the desk."""
    _, finding = check_file(stored)
    return finding["problem"] if finding else None


def derived_row(path: Path) -> StoredFile | None:
    relative = str(path.relative_to(media_root()))
    return StoredFile.objects.select_related("media_item").filter(path=relative).first()


def damaged_files(items: list[MediaItem]) -> dict[int, list[StoredFile]]:
    """The damaged stored files of each of `items`, by item id, originals first."""
    rows = StoredFile.objects.filter(media_item__in=items, damaged_at__isnull=False).order_by("-role", "path")
    by_item: dict[int, list[StoredFile]] = {}
    for row in rows:
        by_item.setdefault(row.media_item_id, []).append(row)
    return by_item


def repair_from_intake(arriving: Path, sha256: str, *, by) -> bool:
    """Bytes arriving at intake that the archive already holds: make sure the stored copy is still them.

    A stored copy that is damaged or missing is replaced by the arriving one, after the arriving
    copy on disk is re-hashed to the digest (its content address); the arriving copy itself stays
    where it is. The repair is recorded on each case holding the file. True if a repair was made
    or a damaged mark cleared.
    """
    item = MediaItem.objects.filter(sha256=sha256).first()
    if item is None:
        return False
    stored = original_of(item)
    final = media_root() / stored.path
    try:
        intact = rehash(final)[0] == sha256
    except FileNotFoundError:
        intact = False
    if intact and not stored.is_damaged:
        return False
    how = "the stored copy matched its SHA-256 again when the same bytes were ingested"
    if not intact:
        arrived, _ = rehash(arriving)
        if arrived != sha256:
            log.error("Not repairing %s: the arriving copy on disk hashes to %s", sha256, arrived)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        # A second name for the arriving copy, swapped in at once: intake still holds its own name
        # for the copy until the row is committed, and the original is never half-written.
        replacement = final.with_name(f"{final.name}.repair")
        replacement.unlink(missing_ok=True)
        os.link(arriving, replacement)
        os.chmod(replacement, 0o444)  # evidence is never modified
        os.replace(replacement, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        how = "the same bytes were ingested again (SHA-256 checked) and replaced the damaged stored copy"
    mark_repaired(stored, by=by, how=how)
    return True
