"""The collection pipeline's bookkeeping: one Extraction per extractor, each run to exactly one outcome."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from verify import flags, services, similarity, workflow
from verify.models import Case, Extraction, MediaItem, storable_json
from verify.record import fixity
from verify.workflow import Stage
from workers.extractors import extractors_for, perceptual, registry
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.summary import summarise

log = logging.getLogger(__name__)
UNFINISHED = (Extraction.Status.PENDING, Extraction.Status.RUNNING)
# The extractor name of the one outcome row a file no extractor reads gets.
NO_READER = "filetype"


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
    """Send a task for each of the item's unfinished extractions; safe to call again."""
    from workers.tasks import run_extraction

    ids = list(item.extractions.filter(status__in=UNFINISHED).values_list("pk", flat=True))
    for extraction_id in ids:
        run_extraction.delay(extraction_id)
    return len(ids)


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


def run_extraction(extraction_id: int) -> str | None:
    """Run one extractor on one file and record its outcome; a redelivered task does nothing twice."""
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
    out_dir.mkdir(parents=True)
    status, result, error = _read(module, item, out_dir)
    fixity.record_derived(item, module.NAME, out_dir)
    _finish(extraction, status, result=result, error=error)
    after_outcome(item, extractor=module.NAME)
    return extraction.status


def _read(module: ModuleType, item: MediaItem, out_dir: Path) -> tuple[str, dict | None, str]:
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
        return (
            Extraction.Status.TIMED_OUT,
            None,
            f"Reading the file took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped.",
        )
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


def after_outcome(item: MediaItem, *, extractor: str | None = None) -> None:
    """What follows an extraction outcome: the item's summary, its cases' flags, leaving collecting.

    `extractor` names the reading that has just finished; None means the caller does not know which
    (a redelivered task, a file linked to one more case), so everything that follows any is redone.
    """
    refresh_summary(item)
    flags.recompute_flags_for_item(item)
    if extractor in (None, perceptual.NAME):
        similarity.update_seen_before(item, reread=extractor == perceptual.NAME)
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


def requeue_stalled(older_than: timedelta = timedelta(minutes=15)) -> int:
    """Re-send tasks for extractions left unfinished (lost message, dead worker); returns how many."""
    cutoff = timezone.now() - older_than
    stalled = Extraction.objects.filter(status__in=UNFINISHED).filter(
        started_at__lt=cutoff
    ) | Extraction.objects.filter(status=Extraction.Status.PENDING, media_item__collected_at__lt=cutoff)
    items = MediaItem.objects.filter(extractions__in=stalled).distinct()
    return sum(enqueue_pending(item) for item in items)
