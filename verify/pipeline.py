"""The collection pipeline's bookkeeping: one Extraction per extractor, each run to exactly one outcome."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from verify import flags, services, similarity, workflow
from verify.clips import services as clips
from verify.models import Case, Extraction, MediaItem, storable_json
from verify.record import fixity
from verify.workflow import Stage
from workers.extractors import extractors_for, perceptual, registry, video_timeline
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.summary import summarise

log = logging.getLogger(__name__)
UNFINISHED = (Extraction.Status.PENDING, Extraction.Status.RUNNING)
# The extractor name of the one outcome row a file no extractor reads gets.
NO_READER = "filetype"
# The readings the summary and the consistency flags are made from (verify/flags.py reads no others).
FLAG_READINGS = frozenset({"exif", "image", "video", "c2pa", perceptual.NAME})
# Slower screening readings, sent to their own queue so that a busy worker reads every file's metadata,
# hashes and flags first.
# A video's timeline decodes every frame of it.
SCREENING_READINGS = frozenset({"forensics", video_timeline.NAME})
# What sending a task raises when the broker is down or restarting.
BROKER_ERRORS = (BrokerUnreachable, ConnectionError, TimeoutError)


def artifacts_dir(item: MediaItem, extractor: str) -> Path:
    return Path(settings.MEDIA_ROOT) / "derived" / item.sha256[:2] / item.sha256 / extractor


def create_extractions(item: MediaItem) -> list[Extraction]:
    """One pending Extraction per extractor that reads this kind; an unsupported kind gets one outcome row."""
    modules = extractors_for(item.kind)
    if not modules:
        return [
            Extraction.objects.get_or_create(
                media_item=item,
                extractor=NO_READER,
                defaults={
                    "status": Extraction.Status.UNSUPPORTED,
                    "error": f"Kept as evidence, but no extractor reads this kind of file ({item.mime_type}).",
                    "finished_at": timezone.now(),
                },
            )[0]
        ]
    return [
        Extraction.objects.get_or_create(
            media_item=item, extractor=module.NAME, defaults={"extractor_version": module.VERSION}
        )[0]
        for module in modules
    ]


def enqueue_pending(item: MediaItem) -> int:
    """Send a task for each of the item's extractions that waits unsent; safe to call again."""
    return send_extractions(_due_for_sending(timezone.now()).filter(media_item=item))


def _due_for_sending(now: datetime) -> QuerySet[Extraction]:
    """Pending extractions whose task was never sent, or was sent long enough ago to count as lost."""
    resend_before = now - timedelta(seconds=settings.EXTRACTION_RESEND_SECONDS)
    return Extraction.objects.filter(status=Extraction.Status.PENDING).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before)
    )


def send_extractions(extractions: QuerySet[Extraction]) -> int:
    """Send the extractions as tasks and note when; returns how many extractions were sent.

    A file's readings for one queue travel in one task (run_extractions), so a file costs the
    broker one message for its first readings and one for its screening, not one per reading;
    every file's first readings are sent before any file's screening.
    A broker that cannot be reached stops the sending without an error: what was not sent keeps an
    empty or old `sent_at`, and the stalled-extraction sweep sends it once the broker is back.
    """
    from workers.tasks import run_extractions

    batches: dict[tuple[str, int], list[int]] = {}
    rows = extractions.order_by("pk").values_list("pk", "media_item_id", "extractor")
    for extraction_id, item_id, extractor in rows:
        batches.setdefault((queue_for(extractor), item_id), []).append(extraction_id)
    screening_last = sorted(batches.items(), key=lambda batch: batch[0][0] == settings.EXTRACTION_SCREENING_QUEUE)
    sent = []
    for (queue, _), extraction_ids in screening_last:
        try:
            run_extractions.apply_async((extraction_ids,), queue=queue, **batch_time_limits(len(extraction_ids)))
        except BROKER_ERRORS as exc:
            log.warning(
                "Broker unreachable (%s); the stalled-extraction sweep will send extractions %s and the rest",
                exc,
                extraction_ids,
            )
            break
        sent += extraction_ids
    if sent:
        try:
            Extraction.objects.filter(pk__in=sent, status=Extraction.Status.PENDING).update(sent_at=timezone.now())
        except DatabaseError:
            # The tasks are on their way; at worst the sweep sends them once more, and a task
            # whose extraction already has an outcome does nothing.
            log.warning("Could not note that extractions %s were sent", sent, exc_info=True)
    return len(sent)


def batch_time_limits(count: int) -> dict[str, int]:
    """The soft and hard time limits of a task that runs `count` readings: each reading's share of the soft
    limit, and the same grace after it as one reading gets."""
    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    return {"soft_time_limit": soft * count, "time_limit": soft * count + hard - soft}


def queue_for(extractor: str) -> str:
    """The Celery queue an extractor's tasks are sent to."""
    if extractor in SCREENING_READINGS:
        return settings.EXTRACTION_SCREENING_QUEUE
    return settings.CELERY_TASK_DEFAULT_QUEUE


def _claim(extraction_id: int) -> Extraction | None:
    """Mark the extraction running and count the delivery; None if it already has an outcome."""
    with transaction.atomic():
        extraction = Extraction.objects.select_for_update().select_related("media_item").get(pk=extraction_id)
        if extraction.is_finished:
            return None
        extraction.attempts += 1
        if extraction.attempts > settings.EXTRACTION_MAX_ATTEMPTS:
            _finish(
                extraction,
                Extraction.Status.FAILED,
                error=(
                    f"The worker stopped {extraction.attempts - 1} times while reading this file "
                    "(crash or hard time limit); it was not tried again."
                ),
            )
            return None
        extraction.status = Extraction.Status.RUNNING
        extraction.started_at = timezone.now()
        extraction.save(update_fields=["attempts", "status", "started_at"])
        return extraction


def _finish(extraction: Extraction, status: str, *, result: dict | None = None, error: str = "") -> None:
    extraction.status = status
    extraction.result = storable_json(result or {})
    extraction.error = storable_json(error)
    extraction.finished_at = timezone.now()
    extraction.save(update_fields=["status", "result", "error", "finished_at", "attempts"])


def run_extractions(extraction_ids: list[int]) -> list[str | None]:
    """Run several readings of one file one after the other, each recorded as run_extraction records it.

    When the task's soft time limit stops a reading, the readings after it are sent again in tasks
    of their own rather than run in the little time left before the hard limit.
    """
    outcomes: list[str | None] = []
    for position, extraction_id in enumerate(extraction_ids):
        outcome = run_extraction(extraction_id, batch_size=len(extraction_ids))
        outcomes.append(outcome)
        if outcome == Extraction.Status.TIMED_OUT:
            send_extractions(
                Extraction.objects.filter(pk__in=extraction_ids[position + 1 :], status=Extraction.Status.PENDING)
            )
            break
    return outcomes


def run_extraction(extraction_id: int, *, batch_size: int = 1) -> str | None:
    """Run one extractor on one file and record its outcome; a redelivered task does nothing twice.

    `batch_size` is how many readings the task runs in all (they share its time limit).
    """
    extraction = _claim(extraction_id)
    if extraction is None:
        # A redelivery of a finished extraction, or one just given up on after too many
        # deliveries: either way, make sure what follows an outcome has happened.
        after_outcome(Extraction.objects.select_related("media_item").get(pk=extraction_id).media_item)
        return None
    item = extraction.media_item
    module = registry()[extraction.extractor]
    out_dir = artifacts_dir(item, module.NAME)
    fixity.forget_derived(item, module.NAME)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)  # a second delivery may be reading the same file
    status, result, error = _read(module, item, out_dir, batch_size=batch_size)
    fixity.record_derived(item, module.NAME, out_dir)
    if not _finish_claimed(extraction, status, result=result, error=error):
        log.warning(
            "Extraction %s was claimed again while this delivery read it; that delivery records it", extraction_id
        )
        return None
    after_outcome(item, extractor=module.NAME)
    return extraction.status


def _finish_claimed(extraction: Extraction, status: str, *, result: dict | None, error: str) -> bool:
    """Record this delivery's outcome, unless a later delivery claimed the extraction meanwhile; True if recorded.

    The attempt number taken at the claim fences out a delivery that was superseded (a task sent
    again while this one waited to retry, or one presumed dead): one extraction, one outcome.
    """
    with transaction.atomic():
        current = Extraction.objects.select_for_update().get(pk=extraction.pk)
        if current.is_finished or current.attempts != extraction.attempts:
            return False
        _finish(extraction, status, result=result, error=error)
    return True


def _read(module: ModuleType, item: MediaItem, out_dir: Path, *, batch_size: int = 1) -> tuple[str, dict | None, str]:
    """Run one extractor on the item's file: its outcome as (status, result, error).

    Whatever the extractor raises becomes an outcome, except a database that is briefly
    unreachable: that is no fault of the file, and the task retries.
    """
    started = time.monotonic()
    try:
        result = module.extract(Path(settings.MEDIA_ROOT) / item.file.name, out_dir)
    except Unsupported as exc:
        return Extraction.Status.UNSUPPORTED, None, str(exc)
    except ExtractionFailed as exc:
        return Extraction.Status.FAILED, None, str(exc)
    except SoftTimeLimitExceeded:
        return Extraction.Status.TIMED_OUT, None, _stopped_by_time_limit(time.monotonic() - started, batch_size)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # An extractor bug or a file it chokes on (struct.error, zlib.error, RuntimeError...):
        # record it for the reviewer and the log instead of leaving the case waiting forever.
        log.exception("Extractor %s failed on %s", module.NAME, item.sha256)
        return (
            Extraction.Status.FAILED,
            None,
            f"The {module.NAME} reader hit an unexpected error on this file ({_exception_name(exc)}: {exc}).",
        )
    result["seconds"] = round(time.monotonic() - started, 3)
    return Extraction.Status.OK, result, ""


def _stopped_by_time_limit(seconds: float, batch_size: int) -> str:
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    if batch_size == 1:
        return f"Reading the file took longer than {limit} s and was stopped."
    # The file's other readings, run before this one in the same task, used part of the time.
    return (
        f"Reading the file was stopped after {seconds:.0f} s, when the {batch_size} readings of this file "
        f"run together had taken their {limit * batch_size} s."
    )


def _exception_name(exc: BaseException) -> str:
    """ValueError, but struct.error or zlib.error: several modules call theirs just "error"."""
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def record_stopped_by_time_limit(extraction_id: int, *, seconds: float) -> str | None:
    """Record an extraction the worker killed at the hard time limit as timed out, then move its cases on.

    The killed task never reaches its own bookkeeping, and its message is acknowledged, so without
    this the row would stay "running" until the stalled-extraction sweep. None if it already had an outcome.
    """
    with transaction.atomic():
        extraction = Extraction.objects.select_for_update().select_related("media_item").get(pk=extraction_id)
        if extraction.is_finished:
            return None
        _finish(
            extraction,
            Extraction.Status.TIMED_OUT,
            error=f"Reading the file took longer than {seconds:g} s; the worker stopped it.",
        )
    after_outcome(extraction.media_item, extractor=extraction.extractor)
    return extraction.status


def record_batch_stopped_by_time_limit(extraction_ids: list[int], *, seconds: float) -> None:
    """The worker killed a task of several readings at its hard time limit: the reading it was running is
    recorded as timed out, and those it had not reached are sent again in tasks of their own."""
    running = Extraction.objects.filter(pk__in=extraction_ids, status=Extraction.Status.RUNNING)
    now = timezone.now()
    for extraction_id, started_at in running.values_list("pk", "started_at"):
        # Its own time, not the task's: the readings before it used part of the task's limit.
        ran = (now - started_at).total_seconds() if started_at else seconds
        record_stopped_by_time_limit(extraction_id, seconds=round(min(ran, seconds)))
    send_extractions(Extraction.objects.filter(pk__in=extraction_ids, status=Extraction.Status.PENDING))


def after_outcome(item: MediaItem, *, extractor: str | None = None) -> None:
    """What follows an extraction outcome: the item's summary, its cases' flags, leaving collecting.

    `extractor` names the reading that has just finished; None means the caller does not know which
    (a redelivered task, a file linked to one more case), so everything that follows any is redone.
    The summary and flags are made once, when the last of the readings they are made from has its
    outcome (each task records its own outcome before it looks, so the last to finish always sees them
    all); a reading they do not use (forensics) changes neither.
    """
    unfinished = set(item.extractions.filter(status__in=UNFINISHED).values_list("extractor", flat=True))
    if extractor is None or (extractor in FLAG_READINGS and not unfinished & FLAG_READINGS):
        refresh_summary(item)
        flags.recompute_flags_for_item(item)
    if extractor in (None, perceptual.NAME):
        similarity.update_seen_before(item, reread=extractor == perceptual.NAME)
    if extractor in (None, video_timeline.NAME):
        clips.update_clip_flags(item, reread=extractor == video_timeline.NAME)
    if not unfinished:
        finish_collecting(item)


def refresh_summary(item: MediaItem) -> None:
    results = dict(item.extractions.filter(status=Extraction.Status.OK).values_list("extractor", "result"))
    summary = summarise(results)
    MediaItem.objects.filter(pk=item.pk).update(**summary)


def finish_collecting(item: MediaItem) -> list[Case]:
    """Move every collecting case of this item whose files all have outcomes on to review."""
    moved = []
    for case in Case.objects.filter(media_items=item, stage=Stage.COLLECTING):
        if case.pending_extraction_count():
            continue
        try:
            moved.append(
                services.transition_case(
                    case=case, to=Stage.IN_REVIEW, by=None, note="Every file's extractions have an outcome"
                )
            )
        except workflow.StaleCase:
            # Another task finished the same case a moment ago.
            continue
    return moved


def _messages_waiting_for(extractions: QuerySet[Extraction], *, now: datetime) -> int:
    """How many queued messages carry these sent, pending extractions.

    A file's readings for one queue travel in one message (send_extractions), so five pending first
    readings are one message, not five. A message a worker holds (one of its readings started since
    it was sent, within a hard time limit and the resend wait) is out of the queue and not counted.
    """
    sent: dict[tuple[int, str], datetime] = {}
    for item_id, extractor, sent_at in extractions.values_list("media_item_id", "extractor", "sent_at"):
        key = (item_id, queue_for(extractor))
        sent[key] = min(sent_at, sent.get(key, sent_at))
    held_since = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.EXTRACTION_RESEND_SECONDS)
    # A subquery, not a list of ids: a backlog of thousands of files stays one parameter-free IN.
    begun = Extraction.objects.filter(media_item_id__in=extractions.values("media_item_id"), started_at__gte=held_since)
    for item_id, extractor, started_at in begun.values_list("media_item_id", "extractor", "started_at"):
        key = (item_id, queue_for(extractor))
        if key in sent and started_at >= sent[key]:
            del sent[key]
    return len(sent)


def requeue_stalled(*, waiting_messages: int | None = None) -> int:
    """Re-send extractions that a broker outage, a lost message or a dead worker left unfinished.

    Pending extractions are re-sent when their task was never sent, or was sent over
    EXTRACTION_RESEND_SECONDS ago and not started. `waiting_messages`, the broker queue's length
    when known, keeps a large legitimate backlog from being sent twice: while the queue still
    holds as many messages as the sent-and-waiting extractions travel in, none of them is lost.
    A running extraction is re-sent once it has run past the hard time limit (its worker died).
    Returns how many extractions were sent.
    """
    now = timezone.now()
    due = _due_for_sending(now)
    waiting_sent = due.filter(sent_at__isnull=False)
    if waiting_messages is not None and waiting_messages >= _messages_waiting_for(waiting_sent, now=now):
        due = due.filter(sent_at__isnull=True)
    died_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.EXTRACTION_RESEND_SECONDS)
    dead = Extraction.objects.filter(status=Extraction.Status.RUNNING, started_at__lt=died_before)
    return send_extractions(Extraction.objects.filter(Q(pk__in=due.values("pk")) | Q(pk__in=dead.values("pk"))))
