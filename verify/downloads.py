"""Link downloads: a link given on the case page, queued, run on a worker to one recorded outcome.

The web request only queues the link; the worker downloads it through the guarded outbound client
into intake, so a slow server holds a worker, never a web process. Each change of a download's
state writes a CaseEvent in the same transaction.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from verify import intake, job_queue, outbound, services, workflow
from verify.intake import IntakeError
from verify.models import Case, CaseEvent, LinkDownload
from verify.units import human_bytes
from verify.workflow import Stage, WorkflowError

log = logging.getLogger(__name__)
Status = LinkDownload.Status
# Progress reaches the database at most this often, so the case page can show it without a write per chunk.
PROGRESS_SECONDS = 1.0
PROGRESS_BYTES = 8 * 1024**2
# Deliveries that may start one download; a link whose worker dies every time is given up on.
MAX_ATTEMPTS = 3
# A download with no sign of life for this long lost its message or its worker (a live worker writes
# progress every second or so and waits at most URL_DOWNLOAD_TIMEOUT for data); the sweep re-sends it.
STALE_AFTER = timedelta(seconds=60)
# A link no worker has finished after this long (every delivery lost, no worker running) is given up on.
GIVE_UP_AFTER = timedelta(hours=1)


class LostClaim(Exception):
    """Another delivery of the task has taken this download over; this one stops and keeps nothing."""


def queue_link_download(*, case: Case, url: str, by) -> LinkDownload:
    """Record a link to download for the case and send it to the workers once the transaction commits."""
    workflow.check_role(by, intake.INTAKE_ROLES, "add files to cases")
    if case.stage in workflow.CLOSED_STAGES:
        raise IntakeError(f"Case #{case.pk} is {Stage(case.stage).label}; reopen it before adding files")
    with transaction.atomic():
        download = LinkDownload.objects.create(case=case, url=url.strip(), requested_by=by)
        _record(download, by=by, note="Queued for download on the workers")
        transaction.on_commit(lambda: send(download.pk))
    return download


def send(download_id: int) -> None:
    from workers.tasks import run_link_download

    run_link_download.delay(download_id)


def run_link_download(download_id: int) -> str | None:
    """Download one queued link into its case; a redelivered or taken-over task records nothing twice."""
    download = _claim(download_id)
    if download is None:
        return None
    progress = _Progress(download)
    try:
        result = intake.ingest_url(case=download.case, url=download.url, by=download.requested_by, on_progress=progress)
    except LostClaim:
        log.warning("Link download %s was taken over by another delivery; this one stopped", download_id)
        return None
    except (outbound.Refused, IntakeError, WorkflowError) as exc:
        # The desk's rules said no: an address, a redirect, the size cap, a closed case, a missing role.
        return _finish(download, Status.REFUSED, str(exc), received=progress.received)
    except outbound.FetchFailed as exc:
        return _finish(download, Status.FAILED, str(exc), received=progress.received)
    except SoftTimeLimitExceeded:
        reason = "The download ran past the worker's time limit and was stopped; nothing was stored."
        return _finish(download, Status.FAILED, reason, received=progress.received)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # A bug or something no rule foresaw: record it for the desk instead of leaving the link queued.
        log.exception("Link download %s failed unexpectedly", download_id)
        reason = f"The download hit an unexpected error ({type(exc).__name__}: {exc})."
        return _finish(download, Status.FAILED, reason, received=progress.received)
    item = result.media_item
    reason = f"{item.original_name}, {human_bytes(item.size)}: {result.outcome}"
    return _finish(download, Status.OK, reason, received=item.size, media_item=item)


def _claim(download_id: int) -> LinkDownload | None:
    """Mark the download running for this delivery; None if it has an outcome or a live worker has it."""
    return job_queue.claim(
        LinkDownload,
        download_id,
        what="download",
        stale_after=STALE_AFTER,
        max_attempts=MAX_ATTEMPTS,
        reset={"bytes_received": 0, "bytes_expected": None},
        give_up=lambda download, reason, before: _set_outcome(download, Status.FAILED, reason, before=before),
        record=lambda download, before, note: _record(download, by=None, before=before, note=note),
    )


class _Progress:
    """Writes bytes received to the download's row every second or few MB; stops a download taken over."""

    def __init__(self, download: LinkDownload):
        self.download = download
        self.received, self.written_bytes, self.written_at = 0, None, 0.0

    def __call__(self, received: int, expected: int | None) -> None:
        self.received = received
        now = time.monotonic()
        if (
            self.written_bytes is not None
            and now - self.written_at < PROGRESS_SECONDS
            and received - self.written_bytes < PROGRESS_BYTES
        ):
            return
        if not job_queue.keep_alive(self.download, bytes_received=received, bytes_expected=expected):
            raise LostClaim(f"Link download {self.download.pk} is no longer this delivery's")
        self.written_bytes, self.written_at = received, now


def _finish(download: LinkDownload, status: str, reason: str, *, received: int, media_item=None) -> str | None:
    """Record the outcome, unless another delivery took the download over meanwhile."""
    with transaction.atomic():
        current = job_queue.lock_own(download)
        if current is None:
            log.warning("Link download %s changed hands before its outcome was recorded", download.pk)
            return None
        current.bytes_received = received
        current.media_item = media_item
        _set_outcome(current, status, reason, before=Status.RUNNING)
    return current.status


def _set_outcome(download: LinkDownload, status: str, reason: str, *, before: str) -> None:
    download.status, download.reason = status, reason
    download.finished_at = download.touched_at = timezone.now()
    download.save(update_fields=["status", "reason", "bytes_received", "media_item", "finished_at", "touched_at"])
    _record(download, by=None, before=before, note=reason)


def _record(download: LinkDownload, *, by, before: str | None = None, note: str) -> CaseEvent:
    new = {"download": download.pk, "url": download.url, "status": download.status}
    if download.is_finished:
        new["bytes_received"] = download.bytes_received
    return services.record_event(
        case=download.case,
        kind=CaseEvent.Kind.LINK_DOWNLOAD,
        by=by,
        old={"status": before} if before else None,
        new=new,
        note=note,
        media_item=download.media_item,
    )


def requeue_stalled(now=None) -> int:
    """Re-send downloads a lost message or a dead worker left unfinished; give up on hopeless ones.

    Returns how many were re-sent. A queued download is re-sent when no worker has taken it for a
    while; a running one when its worker has stopped reporting progress (a live worker writes every
    second or so, and waits at most URL_DOWNLOAD_TIMEOUT for data).
    """
    now = now or timezone.now()
    return job_queue.requeue_stalled(
        LinkDownload,
        what="download",
        now=now,
        stale_after=STALE_AFTER,
        give_up_before=now - max(GIVE_UP_AFTER, timedelta(seconds=3 * MAX_ATTEMPTS * settings.URL_DOWNLOAD_DEADLINE)),
        overdue=lambda minutes: (
            f"No worker finished this download in {minutes} minutes; the desk gave up. Add the link again to retry."
        ),
        send=send,
        give_up=_give_up,
        max_attempts=MAX_ATTEMPTS,
    )


def _give_up(download_id: int, reason: str) -> None:
    with transaction.atomic():
        download = LinkDownload.objects.select_for_update(of=("self",)).select_related("case").get(pk=download_id)
        if download.is_finished:
            return
        _set_outcome(download, Status.FAILED, reason, before=download.status)
