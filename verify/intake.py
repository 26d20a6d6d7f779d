"""Intake: stream a file into content-addressed storage while hashing it, record custody, start the pipeline.

Uploads, `manage.py ingest` and link downloads (verify/downloads.py, through verify/outbound/) all end
in `ingest_stream`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from verify import outbound, pipeline, services, similarity, workflow
from verify.models import Case, CaseEvent, CaseMedia, MediaItem
from verify.record import fixity, publishing, timestamps
from verify.units import human_bytes
from verify.workflow import DESK, EDITOR, REVIEWER, SYSTEM, Stage
from workers.filetype import SNIFF_BYTES, sniff

CHUNK_BYTES = 1024 * 1024
MAX_NAME_CHARS = 200
# The command line without --as acts as the system; custody then records the path it read.
INTAKE_ROLES = {DESK, EDITOR, REVIEWER, SYSTEM}
# A database that drops out while a file is recorded is tried again after 0.5, 1, 2 and 4 s.
RETRY_ATTEMPTS = 5
RETRY_FIRST_WAIT = 0.5
# Copies in incoming/ while a file's intake is in flight, and ones a failed intake could not settle.
HELD, UNSETTLED = "held-", "unsettled-"
# A held copy this old belongs to an intake that was stopped before it finished.
INTERRUPTED_AFTER_SECONDS = 10 * 60

log = logging.getLogger(__name__)
T = TypeVar("T")


class IntakeError(Exception):
    """The file was refused; the message says why. Nothing was stored."""


class EmptyFile(IntakeError):
    """The file has no bytes: there is nothing to preserve (the upload form refuses it too)."""


class NotTaken(IntakeError):
    """The database stayed unreachable while the file was being recorded; run the intake again.

    Its original left the archive again. If the connection dropped just as the row committed, the
    sweep puts the original back and the next intake of the file finds it already in.
    """


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


def _hold(tmp_path: Path, sha256: str) -> Path:
    """Name the streamed file after its SHA-256; this copy says which bytes are in flight until the intake settles."""
    held = tmp_path.with_name(f"{HELD}{sha256}-{tmp_path.name.removeprefix('intake-')}")
    os.chmod(tmp_path, 0o444)  # evidence is never modified
    os.replace(tmp_path, held)
    return held


def _keep(held: Path, sha256: str) -> bool:
    """Give the held copy its content address (a second name, same bytes); False if those bytes were already stored."""
    final = original_path(sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(held, final)
    except FileExistsError:
        return False
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the new name itself survives a crash
    finally:
        os.close(directory)
    return True


def _release(held: Path, sha256: str) -> None:
    """The row is committed: make sure the original is in place (put back from the copy if not), drop the copy."""
    with contextlib.suppress(FileExistsError):
        os.link(held, original_path(sha256))
    held.unlink(missing_ok=True)


def _settle(held: Path, sha256: str) -> bool:
    """Keep or withdraw an original whose intake did not finish, as the database says; True if withdrawn.

    Unrecorded, the original leaves the archive first and the database is asked again: an intake of
    the same bytes that committed meanwhile gets its original back from the copy.
    """
    if not MediaItem.objects.filter(sha256=sha256).exists():
        original_path(sha256).unlink(missing_ok=True)
        if not MediaItem.objects.filter(sha256=sha256).exists():
            held.unlink(missing_ok=True)
            return True
    _release(held, sha256)
    return False


def _withdraw(held: Path, sha256: str) -> None:
    """Take back out of the archive the original of an intake whose recording failed.

    When the database cannot even say whether another intake recorded the same bytes, the original
    still leaves the archive, its copy stays in incoming/ as unsettled, and the sweep puts it back
    (if a row records it after all) or removes it once the database answers.
    """
    try:
        _settle(held, sha256)
    except DatabaseError:
        original_path(sha256).unlink(missing_ok=True)
        os.replace(held, held.with_name(UNSETTLED + held.name.removeprefix(HELD)))
        log.warning("Could not check %s after a failed intake; the sweep will settle it", sha256, exc_info=True)


def settle_interrupted_intakes(older_than_seconds: int = INTERRUPTED_AFTER_SECONDS) -> int:
    """Settle the originals of intakes that stopped half way (a killed process, a database outage).

    Each copy left in incoming/ names its SHA-256: if a MediaItem row records those bytes the original
    stays (put back if missing), if not it leaves the archive. Returns how many originals were withdrawn.
    """
    incoming = Path(settings.MEDIA_ROOT) / "incoming"
    cutoff = time.time() - older_than_seconds
    withdrawn = 0
    for held in sorted(incoming.glob(f"{HELD}*")) + sorted(incoming.glob(f"{UNSETTLED}*")):
        sha256 = held.name.split("-")[1]
        with contextlib.suppress(FileNotFoundError):  # its own intake finished meanwhile
            if held.name.startswith(UNSETTLED) or held.stat().st_mtime < cutoff:
                withdrawn += _settle(held, sha256)
    return withdrawn


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
    """Preserve one file for a case: store it once by content, record custody, queue its extractors.

    The original enters the archive before its row is committed, so a committed row always has its
    file; if the recording fails it leaves the archive again, and a process stopped in between
    leaves a copy in incoming/ that the sweep or the next intake of the same bytes settles.
    """
    _with_retries(lambda: workflow.check_role(by, INTAKE_ROLES, "add files to cases"))
    if case.stage in workflow.CLOSED_STAGES:
        raise IntakeError(f"Case #{case.pk} is {Stage(case.stage).label}; reopen it before adding files")
    name = safe_original_name(original_name)
    sha256, size, head, tmp_path = store_stream(source)
    if size == 0:
        tmp_path.unlink()
        raise EmptyFile("The file is empty (0 bytes); nothing was stored")
    filetype = sniff(head)
    held = _hold(tmp_path, sha256)
    try:
        # Bytes the archive already holds repair a damaged or missing stored copy of them.
        _with_retries(lambda: fixity.repair_from_intake(held, sha256, by=by))
        stored_new = _keep(held, sha256)
    except BaseException:  # nothing new is in the archive yet: the copy goes, the error is reported
        held.unlink(missing_ok=True)
        raise
    try:
        item, linked = _with_retries(
            lambda: _record(case=case, sha256=sha256, size=size, name=name, filetype=filetype, by=by, origin=origin)
        )
    except BaseException:
        if stored_new:
            _withdraw(held, sha256)
        else:
            held.unlink(missing_ok=True)  # the original was there before this intake; not ours to remove
        raise
    _release(held, sha256)
    return IntakeResult(item, stored_new, linked, filetype.description)


def _with_retries(action: Callable[[], T]) -> T:
    """Run a database action, again after a short wait if the database drops out; NotTaken when it stays away."""
    wait, attempt = RETRY_FIRST_WAIT, 1
    while True:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()  # a connection the outage broke is replaced
        try:
            return action()
        except (OperationalError, InterfaceError) as exc:
            reason = f"{type(exc).__name__}: {(str(exc).strip() or 'no detail').splitlines()[0]}"
            if attempt == RETRY_ATTEMPTS:
                raise NotTaken(
                    f"The database could not be reached ({reason}) in {RETRY_ATTEMPTS} attempts; "
                    "the file was not taken, run the intake again"
                ) from exc
            log.warning("Database unavailable during intake (%s); trying again in %.1f s", reason, wait)
            time.sleep(wait)
            wait, attempt = wait * 2, attempt + 1


def _record(*, case: Case, sha256: str, size: int, name: str, filetype, by, origin: str) -> tuple[MediaItem, bool]:
    """In one transaction: the MediaItem, its link to the case, the custody event, its pending extractions."""
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
                # Its SHA-256 goes to the time-stamping authority once this commits.
                timestamps.queue_original(item)
            else:
                similarity.record_same_file_flags(item)
            # No verdict is approved over a file it did not see.
            publishing.file_added(case=case, media_item=item)
            _start_collecting(case, by)
            if not item.extractions.filter(status__in=pipeline.UNFINISHED).exists():
                # Nothing left to read (read already for another case, or no reader for this
                # kind of file): no task will finish collecting, so the case moves on now.
                pipeline.after_outcome(item, extractor=pipeline.NO_READER if created else None)
            # A broker that is down only leaves the extractions unsent, for the sweep to send.
            transaction.on_commit(lambda: pipeline.enqueue_pending(item))
    return item, linked


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
