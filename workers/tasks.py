"""Thin Celery tasks: load by id, call the pipeline or a selector, record the outcome."""

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_prerun
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from kombu.exceptions import KombuError

log = logging.getLogger(__name__)

# Only a database that is briefly unreachable is worth retrying; a file that cannot
# be read gets its outcome recorded by the pipeline instead.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class ExtractionTask(Task):
    """The extraction task, which records an outcome even when the worker kills it at the hard time limit."""

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: object) -> None:
        # Celery calls this in the worker's main process after killing the task, then
        # acknowledges the message: this is the only chance to record the outcome promptly.
        if not isinstance(exc, TimeLimitExceeded):
            return
        from verify import pipeline

        extraction_ids = args[0] if args else kwargs.get("extraction_ids", kwargs.get("extraction_id"))
        seconds = exc.args[0] if exc.args and isinstance(exc.args[0], int | float) else settings.CELERY_TASK_TIME_LIMIT
        try:
            if isinstance(extraction_ids, list):
                pipeline.record_batch_stopped_by_time_limit(extraction_ids, seconds=seconds)
            else:
                pipeline.record_stopped_by_time_limit(extraction_ids, seconds=seconds)
        except TRANSIENT_ERRORS:
            # The stalled-extraction sweep re-sends it later; the worker itself must not fail here.
            log.exception("Could not record extraction(s) %s as stopped by the time limit", extraction_ids)


# A task whose outcome is a row: redelivered when its worker dies, retried only for the database,
# and no result backend entry (nobody reads one).
RECORDED_OUTCOME = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 6,
    "ignore_result": True,
}


@shared_task(name="workers.tasks.run_extraction", base=ExtractionTask, **RECORDED_OUTCOME)
def run_extraction(extraction_id: int) -> str | None:
    """Run one extractor on one media item; redelivery of a finished extraction does nothing.

    The pipeline sends run_extractions; this one reads what was queued before readings travelled together.
    """
    from verify import pipeline

    return pipeline.run_extraction(extraction_id)


@shared_task(name="workers.tasks.run_extractions", base=ExtractionTask, **RECORDED_OUTCOME)
def run_extractions(extraction_ids: list[int]) -> list[str | None]:
    """Run several readings of one media item in turn (what the pipeline sends); finished ones are skipped."""
    from verify import pipeline

    return pipeline.run_extractions(extraction_ids)


@shared_task(
    name="workers.tasks.run_link_download",
    **RECORDED_OUTCOME,
    # The client stops the download at URL_DOWNLOAD_DEADLINE; these only catch what it cannot.
    soft_time_limit=settings.URL_DOWNLOAD_DEADLINE + 60,
    time_limit=settings.URL_DOWNLOAD_DEADLINE + 90,
)
def run_link_download(download_id: int) -> str | None:
    """Download one queued link into its case; the outcome is the LinkDownload row."""
    from verify import downloads

    return downloads.run_link_download(download_id)


@shared_task(
    name="workers.tasks.run_capture",
    **RECORDED_OUTCOME,
    # Chromium stops at CAPTURE_PAGE_SECONDS and yt-dlp at the download deadline; these catch the rest.
    soft_time_limit=settings.CAPTURE_PAGE_SECONDS + settings.URL_DOWNLOAD_DEADLINE + 120,
    time_limit=settings.CAPTURE_PAGE_SECONDS + settings.URL_DOWNLOAD_DEADLINE + 180,
)
def run_capture(job_id: int) -> str | None:
    """Capture one post into its case; the outcome of each step is on the CaptureJob row."""
    from verify.capture import jobs

    return jobs.run_capture(job_id)


@shared_task(name="workers.tasks.recapture_watched_sightings")
def recapture_watched_sightings() -> int:
    """Capture again the captured sightings of open cases, to notice posts deleted or edited since."""
    from verify.capture import jobs

    return jobs.recapture_watched()


@shared_task(name="workers.tasks.requeue_stalled_extractions")
def requeue_stalled_extractions() -> int:
    """Re-send readings and link downloads left unsent or unfinished; settle intakes stopped half way."""
    from verify import downloads, pipeline
    from verify.intake import remove_abandoned_uploads, settle_interrupted_intakes

    # Settled first: an original an interrupted intake took out again is back before its readings are sent.
    withdrawn = settle_interrupted_intakes()
    if withdrawn:
        log.warning("Withdrew %d original(s) of intakes that stopped before recording them", withdrawn)
    count = pipeline.requeue_stalled(waiting_messages=waiting_messages())
    if count:
        log.warning("Re-sent %d stalled extraction(s)", count)
    resent = downloads.requeue_stalled()
    if resent:
        log.warning("Re-sent %d stalled link download(s)", resent)
    from verify.capture import jobs as captures

    if captures.requeue_stalled():
        log.warning("Re-sent stalled post capture(s)")
    removed = remove_abandoned_uploads()
    if removed:
        log.warning("Removed %d partial upload(s) abandoned by a stopped intake", removed)
    return count


def waiting_messages() -> int | None:
    """How many messages wait in the extraction queues (default and screening); None when the broker cannot say."""
    app = run_extraction.app
    queues = (app.conf.task_default_queue, settings.EXTRACTION_SCREENING_QUEUE)
    try:
        with app.connection_for_read() as connection:
            # Not passive: Redis keeps no key for an empty queue, and a passive declaration would call it missing.
            return sum(connection.default_channel.queue_declare(queue=queue).message_count for queue in queues)
    except (KombuError, ConnectionError, TimeoutError):
        log.warning("Could not count the messages waiting in the queue", exc_info=True)
        return None


@task_prerun.connect
def drop_broken_database_connections(sender: Task | None = None, **kwargs: object) -> None:
    """Reconnect after a database outage instead of failing every task on a dead connection.

    Workers keep their connection across tasks (CELERY_DB_REUSE_MAX); Django drops a broken
    one only at the end of a web request, so a worker does it before each task.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # inside the caller's process and transaction
    close_old_connections()


@shared_task(name="workers.tasks.report_overdue_cases")
def report_overdue_cases() -> list[int]:
    """Log the open cases past their deadline, most urgent first; returns their ids."""
    from verify.selectors import overdue_cases

    overdue = list(overdue_cases().values_list("pk", "title", "deadline"))
    for pk, title, deadline in overdue:
        log.warning("Case #%s is past its deadline (%s): %s", pk, deadline.isoformat(), title)
    return [pk for pk, _, _ in overdue]


@shared_task(name="workers.tasks.check_fixity_slice", ignore_result=True)
def check_fixity_slice() -> int:
    """Re-hash the next slice of stored files and walk the next cases' event chains; returns the pass's id."""
    from verify.record import fixity

    return fixity.check_next_slice().pk


@shared_task(name="workers.tasks.stamp_timestamp", **RECORDED_OUTCOME)
def stamp_timestamp(token_id: int) -> str:
    """Ask the time-stamping authority for one pending stamp; the outcome is the TimestampToken row."""
    from verify.record import timestamps

    return timestamps.stamp(token_id).status


@shared_task(name="workers.tasks.retry_timestamps", ignore_result=True)
def retry_timestamps() -> int:
    """Stamp what waits for the authority (none configured then, or unreachable) once its retry is due."""
    from verify.record import timestamps

    return timestamps.retry_due()


@shared_task(name="workers.tasks.stamp_chain_heads", ignore_result=True)
def stamp_chain_heads() -> int | None:
    """Once a day: one time-stamp over every case's chain head; returns the row's id."""
    from verify.record import timestamps

    row = timestamps.stamp_chain_heads()
    return row.pk if row else None


class ExportTask(Task):
    """The export task, which records why an export stopped, whatever stopped it (the time limit included)."""

    def on_failure(self, exc: BaseException, task_id: str, args: tuple, kwargs: dict, einfo: object) -> None:
        from verify.exports import jobs

        job_id = args[0] if args else kwargs["job_id"]
        if isinstance(exc, TimeLimitExceeded | SoftTimeLimitExceeded):
            reason = f"The export was stopped after {settings.EXPORT_TIME_LIMIT:,} seconds, its time limit"
        else:
            reason = f"The export stopped on an error: {exc.__class__.__name__}: {exc}"
        try:
            jobs.record_failure(job_id, reason)
        except TRANSIENT_ERRORS:
            log.exception("Could not record export %s as failed", job_id)


@shared_task(
    name="workers.tasks.run_export",
    base=ExportTask,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # An export of 100,000 cases takes about a minute; the default task limits are for single files.
    soft_time_limit=settings.EXPORT_TIME_LIMIT,
    time_limit=settings.EXPORT_TIME_LIMIT + 60,
)
def run_export(job_id: int) -> str | None:
    """Write one export job's file to storage; its progress and outcome are on the ExportJob row."""
    from verify.exports import jobs

    return jobs.run_export(job_id)


@shared_task(name="workers.tasks.send_notice_mail", ignore_result=True)
def send_notice_mail(mail_ids: list[int] | None = None) -> int:
    """Send notices' e-mails: those of `mail_ids` once their notices commit, or (from beat) every one due."""
    from verify.notices import mailing

    return mailing.send_due(mail_ids)
