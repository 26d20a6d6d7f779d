"""Intake: stream a file into content-addressed storage while hashing it, record custody, start the pipeline.

Uploads, `manage.py ingest` and link downloads (verify/downloads.py, through verify/outbound/) all end
in `ingest_stream`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from verify import outbound, pipeline, services, workflow
from verify.models import Case, CaseEvent, CaseMedia, MediaItem
from verify.record import fixity, publishing
from verify.units import human_bytes
from verify.workflow import DESK, EDITOR, REVIEWER, SYSTEM, Stage
from workers.filetype import SNIFF_BYTES, sniff

CHUNK_BYTES = 1024 * 1024
MAX_NAME_CHARS = 200
# The command line without --as acts as the system; custody then records the path it read.
INTAKE_ROLES = {DESK, EDITOR, REVIEWER, SYSTEM}


class IntakeError(Exception):
    """The file was refused; the message says why. Nothing was stored."""


@dataclass(frozen=True)
class IntakeResult:
    media_item: MediaItem
    stored_new_file: bool  # False: the same bytes were already in the archive
    linked_to_case: bool  # False: the item was already part of this case
    description: str

    @property
    def outcome(self) -> str:
        if not self.linked_to_case:
            return "already in this case"
        if not self.stored_new_file:
            return "already in the archive, linked"
        if self.media_item.kind == MediaItem.Kind.OTHER:
            return "stored, unsupported kind"
        return "stored"


def safe_original_name(name: str | None) -> str:
    """The name to record: last path part only, no control characters or NULs, bounded length.

    The name is only ever metadata; stored files are named by their SHA-256.
    """
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".") or "unnamed"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_NAME_CHARS - len(ext) - 2] + "…" + (f".{ext}" if ext else "")
    return name


def original_path(sha256: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "originals" / sha256[:2] / sha256[2:4] / sha256


def store_stream(source: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int, bytes, Path]:
    """Copy `source` to a temporary file next to the archive, hashing as it goes.

    Returns (sha256, size, first bytes, temporary path); memory use is one chunk.
    """
    max_bytes = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix="intake-")
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise IntakeError(f"File is larger than the {human_bytes(max_bytes)} limit for one file")
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            # On disk before the database says we have it.
            os.fsync(out.fileno())
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size, head, tmp_path


def _keep(tmp_path: Path, sha256: str) -> bool:
    """Move the temporary file to its content address; False if those bytes were already stored."""
    final = original_path(sha256)
    if final.exists():
        tmp_path.unlink(missing_ok=True)
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp_path, 0o444)  # evidence is never modified
    os.replace(tmp_path, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
    return True


def remove_abandoned_uploads(older_than_seconds: int = 24 * 3600) -> int:
    """Delete partial files a killed intake left in incoming/; they never became evidence."""
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in incoming.glob("intake-*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _start_collecting(case: Case, by) -> None:
    """A new file puts its case (back) into collecting, as the system, until the file has been read.

    A case already in review goes back too: otherwise a batch whose first files were read
    before the last ones arrived would sit in review with unread files.
    """
    case.refresh_from_db()
    note = f"A file was added by {by.get_username()}" if by else "A file was added"
    if case.stage == Stage.NEW:
        case = services.transition_case(case=case, to=Stage.TRIAGE, by=None, note=note)
    if case.stage in (Stage.TRIAGE, Stage.IN_REVIEW):
        services.transition_case(case=case, to=Stage.COLLECTING, by=None, note=note)


def ingest_stream(*, case: Case, source: BinaryIO, original_name: str | None, by, origin: str) -> IntakeResult:
    """Preserve one file for a case: store it once by content, record custody, queue its extractors."""
    workflow.check_role(by, INTAKE_ROLES, "add files to cases")
    if case.stage in workflow.CLOSED_STAGES:
        raise IntakeError(f"Case #{case.pk} is {Stage(case.stage).label}; reopen it before adding files")
    name = safe_original_name(original_name)
    sha256, size, head, tmp_path = store_stream(source)
    filetype = sniff(head)
    try:
        # Bytes the archive already holds repair a damaged stored copy of them.
        fixity.repair_from_intake(tmp_path, sha256, by=by)
        stored_new = _keep(tmp_path, sha256)
    except OSError:
        tmp_path.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        item, created = _media_item(sha256=sha256, size=size, name=name, filetype=filetype, by=by)
        link, linked = CaseMedia.objects.get_or_create(case=case, media_item=item, defaults={"added_by": by})
        if linked:
            services.record_event(
                case=case,
                kind=CaseEvent.Kind.MEDIA_COLLECTED,
                by=by,
                media_item=item,
                new={
                    "sha256": sha256,
                    "original_name": name,
                    "size": size,
                    "kind": item.kind,
                    "type": filetype.description,
                    "origin": origin,
                    "received_at": timezone.now().isoformat(),
                    "already_in_archive": not created,
                },
            )
            if created:
                pipeline.create_extractions(item)
            # No verdict is approved over a file it did not see.
            publishing.file_added(case=case, media_item=item)
            _start_collecting(case, by)
            if not item.extractions.filter(status__in=pipeline.UNFINISHED).exists():
                # Nothing left to read (read already for another case, or no reader for this
                # kind of file): no task will finish collecting, so the case moves on now.
                pipeline.after_outcome(item, extractor=pipeline.NO_READER if created else None)
            transaction.on_commit(lambda: pipeline.enqueue_pending(item))
    return IntakeResult(item, stored_new, linked, filetype.description)


def _media_item(*, sha256, size, name, filetype, by) -> tuple[MediaItem, bool]:
    existing = MediaItem.objects.filter(sha256=sha256).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            item = MediaItem.objects.create(
                sha256=sha256,
                kind=filetype.kind,
                mime_type=filetype.mime_type,
                size=size,
                original_name=name,
                file=str(original_path(sha256).relative_to(settings.MEDIA_ROOT)),
                collected_by=by,
            )
        return item, True
    except IntegrityError:
        # Someone stored the same bytes a moment ago: it is one item.
        return MediaItem.objects.get(sha256=sha256), False


def ingest_path(*, case: Case, path: Path, by) -> IntakeResult:
    with open(path, "rb") as source:
        return ingest_stream(case=case, source=source, original_name=path.name, by=by, origin=f"file on disk: {path}")


def ingest_url(
    *, case: Case, url: str, by, on_progress: Callable[[int, int | None], None] | None = None
) -> IntakeResult:
    """Download a file through the guarded outbound client into the case.

    The client's rules apply (no internal addresses, checked redirects, one deadline, the size cap); it
    raises outbound.Refused or outbound.FetchFailed, and nothing is stored when it does.
    """
    with outbound.open_url(url, on_progress=on_progress) as download:
        origin = f"downloaded from {url.strip()} ({download.describe()})"
        return ingest_stream(case=case, source=download, original_name=download.filename, by=by, origin=origin)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def download_name(item: MediaItem) -> str:
    """A file name safe to offer in a Content-Disposition header."""
    return _SAFE.sub("_", item.original_name)[:100] or item.sha256
