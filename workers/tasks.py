"""Thin Celery tasks: load by id, call the pipeline or a selector, record the outcome."""

import logging

from celery import Task, shared_task
from celery.exceptions import TimeLimitExceeded
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

        extraction_id = args[0] if args else kwargs["extraction_id"]
        seconds = exc.args[0] if exc.args and isinstance(exc.args[0], int | float) else settings.CELERY_TASK_TIME_LIMIT
        try:
            pipeline.record_stopped_by_time_limit(extraction_id, seconds=seconds)
        except TRANSIENT_ERRORS:
            # The stalled-extraction sweep re-sends it later; the worker itself must not fail here.
            log.exception("Could not record extraction %s as stopped by the time limit", extraction_id)


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
    """Run one extractor on one media item; redelivery of a finished extraction does nothing."""
    from verify import pipeline

    return pipeline.run_extraction(extraction_id)


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
        log.warning("Re-sent %d stalled extraction task(s)", count)
    resent = downloads.requeue_stalled()
    if resent:
        log.warning("Re-sent %d stalled link download(s)", resent)
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
