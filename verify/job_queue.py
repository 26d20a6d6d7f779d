"""Queue bookkeeping the workers' jobs share (link downloads, post captures): claim, sign of life, re-send.

A task is delivered at least once; a lost message or a dead worker leaves a job queued or running.
These helpers keep one delivery in charge of a job at a time: `claim` marks it running for this
delivery, `keep_alive` writes progress only while it still is, `lock_own` takes the row to record the
outcome only if no other delivery took over meanwhile, and `requeue_stalled` re-sends jobs with no
sign of life and gives up on hopeless ones. What a job records, and in which words, stays its module's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from verify.models import QueuedJob

Job = TypeVar("Job", bound=QueuedJob)
UNFINISHED = (QueuedJob.QUEUED, QueuedJob.RUNNING)


def claim(
    model: type[Job],
    job_id: int,
    *,
    what: str,
    stale_after: dt.timedelta,
    max_attempts: int,
    reset: dict | None = None,
    give_up: Callable[[Job, str, str], None],
    record: Callable[[Job, str, str], object],
) -> Job | None:
    """Mark the job running for this delivery; None if it has an outcome or a live worker has it.

    `reset` gives fields to set afresh for the attempt. A job whose worker stopped `max_attempts`
    times is given up on (`give_up(job, reason, status_before)`) instead; `record(job, status_before,
    note)` writes the event of the start.
    """
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update(of=("self",)).select_related("case", "requested_by").get(pk=job_id)
        if job.is_finished or (job.status == QueuedJob.RUNNING and job.touched_at >= now - stale_after):
            return None
        before = job.status
        if job.attempts >= max_attempts:
            give_up(job, worker_stopped(job.attempts, what), before)
            return None
        job.attempts += 1
        job.status, job.started_at, job.touched_at = QueuedJob.RUNNING, now, now
        for name, value in (reset or {}).items():
            setattr(job, name, value)
        job.save(update_fields=["attempts", "status", "started_at", "touched_at", *(reset or {})])
        record(job, before, f"A worker started the {what} (attempt {job.attempts})")
    return job


def worker_stopped(attempts: int, what: str) -> str:
    return f"The worker stopped {attempts} times during this {what}; it was not tried again."


def keep_alive(job: QueuedJob, **fields) -> bool:
    """Write progress and a sign of life, if the job is still this delivery's; False if another took it over."""
    updated = (
        type(job)
        .objects.filter(pk=job.pk, status=QueuedJob.RUNNING, attempts=job.attempts)
        .update(touched_at=timezone.now(), **fields)
    )
    return bool(updated)


def lock_own(job: Job) -> Job | None:
    """The job's row, locked for recording its outcome; None if another delivery took it over meanwhile.

    Call inside a transaction.
    """
    current = type(job).objects.select_for_update(of=("self",)).select_related("case").get(pk=job.pk)
    if current.status != QueuedJob.RUNNING or current.attempts != job.attempts:
        return None
    return current


def requeue_stalled(
    model: type[QueuedJob],
    *,
    what: str,
    now: dt.datetime,
    stale_after: dt.timedelta,
    give_up_before: dt.datetime,
    overdue: Callable[[int], str],
    send: Callable[[int], None],
    give_up: Callable[[int, str], None],
    max_attempts: int | None = None,
) -> int:
    """Re-send jobs with no sign of life for `stale_after`; give up on ones requested before `give_up_before`.

    `overdue(minutes)` says why a job was given up on. With `max_attempts`, a running job whose worker
    stopped that many times is given up on here rather than sent again. Returns how many were re-sent.
    """
    resent = 0
    stalled = model.objects.filter(status__in=UNFINISHED, touched_at__lt=now - stale_after)
    for job_id, status, attempts, requested_at in stalled.values_list("pk", "status", "attempts", "requested_at"):
        if max_attempts is not None and status == QueuedJob.RUNNING and attempts >= max_attempts:
            give_up(job_id, worker_stopped(attempts, what))
        elif requested_at < give_up_before:
            give_up(job_id, overdue(round((now - requested_at).total_seconds() / 60)))
        else:
            send(job_id)
            resent += 1
    return resent
