"""Re-hashing photos read by an older perceptual extractor, so that they get the region hashes matching needs."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from verify.models import Extraction, MediaItem
from workers.extractors import perceptual


def outdated_readings() -> QuerySet[Extraction]:
    """Finished perceptual readings of photos made by an extractor version older than this one."""
    return (
        Extraction.objects.filter(extractor=perceptual.NAME, media_item__kind=MediaItem.Kind.PHOTO)
        .exclude(status__in=(Extraction.Status.PENDING, Extraction.Status.RUNNING))
        .exclude(extractor_version=perceptual.VERSION)
        .order_by("pk")
    )


def queue_rehash(*, limit: int | None = None) -> list[int]:
    """Make up to `limit` outdated perceptual readings pending again; their ids. Sending them (or running
    them) re-reads the photo, and its hashes and seen-before flags follow as after any reading."""
    with transaction.atomic():
        ids = list(outdated_readings().select_for_update().values_list("pk", flat=True)[:limit])
        Extraction.objects.filter(pk__in=ids).update(
            status=Extraction.Status.PENDING,
            extractor_version=perceptual.VERSION,
            attempts=0,
            result={},
            error="",
            started_at=None,
            finished_at=None,
            sent_at=None,
        )
    return ids
