"""Export jobs: asked for on the desk, written by a worker to storage, downloaded when ready."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from verify.exports import writer
from verify.models import ExportJob

log = logging.getLogger(__name__)


def request_export(*, by, fmt: str, case_ids: Sequence[int], send_now: bool = True) -> ExportJob:
    """An export of `case_ids` (in that order) as `fmt`, queued for a worker once the transaction commits."""
    job = ExportJob.objects.create(format=fmt, requested_by=by, case_ids=list(case_ids), rows_total=len(case_ids))
    if send_now:
        transaction.on_commit(lambda: send(job.pk))
    return job


def send(job_id: int) -> None:
    from verify.pipeline import BROKER_ERRORS
    from workers.tasks import run_export

    try:
        run_export.delay(job_id)
    except BROKER_ERRORS as exc:
        # Nothing sweeps for lost exports: say so on the job's page, where the person can ask again.
        record_failure(job_id, f"The export could not be handed to a worker (the task queue is unreachable: {exc})")


def run_export(job_id: int) -> str | None:
    """Write the job's file; a job already finished (a redelivered message) is left as it is."""
    job = _claim(job_id)
    if job is None:
        return None
    filename = f"verify-desk-cases-{job.requested_at:%Y%m%d-%H%M}-{job.pk}.{job.format}"

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(rows_done=done)

    try:
        with tempfile.TemporaryFile() as out:
            if job.format == ExportJob.Format.CSV:
                rows = writer.write_csv(job.case_ids, out, progress)
            else:
                rows = writer.write_json(job.case_ids, out, progress, generated_at=job.started_at)
            size = out.tell()
            out.seek(0)
            job.file.save(filename, File(out, name=filename), save=False)
    except OSError as exc:
        record_failure(job.pk, f"The export file could not be written: {exc.strerror or exc}")
        return None
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        file=job.file.name,
        size=size,
        rows_done=rows,
        rows_total=rows,
        finished_at=timezone.now(),
    )
    return job.file.name


def _claim(job_id: int) -> ExportJob | None:
    # A job left running by a worker that died is written again from the start when its message comes back.
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        job.status = ExportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.rows_done = 0
        job.rows_total = len(job.case_ids)
        job.save(update_fields=["status", "started_at", "rows_done", "rows_total"])
    return job


def record_failure(job_id: int, reason: str) -> None:
    """Mark the job failed with `reason`, unless it already finished."""
    updated = (
        ExportJob.objects.filter(pk=job_id)
        .exclude(status__in=[ExportJob.Status.DONE, ExportJob.Status.FAILED])
        .update(status=ExportJob.Status.FAILED, reason=reason, finished_at=timezone.now())
    )
    if updated:
        log.warning("Export %s failed: %s", job_id, reason)
