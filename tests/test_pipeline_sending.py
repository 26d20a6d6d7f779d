"""Sending reading tasks: each noted when sent; the sweep re-sends only what was never sent or was lost."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import add_media, make_case
from tests.media import jpeg_bytes
from verify import intake, pipeline
from verify.models import Extraction
from workers import tasks


@pytest.fixture
def sent(monkeypatch):
    """The extraction ids handed to the broker, in order."""
    handed = []
    monkeypatch.setattr(tasks.run_extractions, "apply_async", lambda args, **options: handed.extend(args[0]))
    return handed


def extraction(case, *, status="pending", sent_ago=None, started_ago=None) -> Extraction:
    now = timezone.now()
    return Extraction.objects.create(
        media_item=add_media(case, name="photo.jpg", kind="photo"),
        extractor="exif",
        status=status,
        sent_at=None if sent_ago is None else now - timedelta(seconds=sent_ago),
        started_at=None if started_ago is None else now - timedelta(seconds=started_ago),
    )


def test_it_resends_only_readings_never_sent_or_sent_long_ago(desk, sent, settings):
    settings.EXTRACTION_RESEND_SECONDS = 60
    case = make_case(by=desk, stage="triage")
    never_sent = extraction(case)
    lost = extraction(case, sent_ago=300)
    extraction(case, sent_ago=10)
    extraction(case, status="ok", sent_ago=300)

    assert pipeline.requeue_stalled() == 2

    assert sent == [never_sent.pk, lost.pk]
    lost.refresh_from_db()
    assert timezone.now() - lost.sent_at < timedelta(seconds=10)
    assert pipeline.requeue_stalled() == 0


def test_it_leaves_a_backlog_that_still_waits_in_the_queue(desk, sent):
    case = make_case(by=desk, stage="triage")
    waiting = [extraction(case, sent_ago=300) for _ in range(3)]
    never_sent = extraction(case)

    assert pipeline.requeue_stalled(waiting_messages=3) == 1
    assert sent == [never_sent.pk]

    # Fewer messages in the queue than readings waiting for one: some were lost (a broker restart).
    assert pipeline.requeue_stalled(waiting_messages=2) == 3
    assert sent[1:] == [e.pk for e in waiting]


def test_it_counts_a_files_first_readings_as_the_one_message_they_travel_in(desk, sent):
    case = make_case(by=desk, stage="triage")
    item = add_media(case, name="photo.jpg", kind="photo")
    sent_at = timezone.now() - timedelta(seconds=300)
    for extractor in ("exif", "image", "perceptual", "c2pa", "forensics"):
        Extraction.objects.create(media_item=item, extractor=extractor, sent_at=sent_at)

    # The first readings' message and the screening one both still wait in the queue.
    assert pipeline.requeue_stalled(waiting_messages=2) == 0
    assert sent == []


def test_it_does_not_count_a_message_a_worker_has_begun_as_waiting(desk, sent):
    case = make_case(by=desk, stage="triage")
    item = add_media(case, name="photo.jpg", kind="photo")
    now = timezone.now()
    sent_at = now - timedelta(seconds=300)
    Extraction.objects.create(media_item=item, extractor="exif", status="ok", sent_at=sent_at, started_at=now)
    Extraction.objects.create(media_item=item, extractor="image", sent_at=sent_at)

    assert pipeline.requeue_stalled(waiting_messages=0) == 0
    assert sent == []


def test_it_resends_the_rest_of_a_message_whose_worker_stopped_between_readings(desk, sent, settings):
    settings.CELERY_TASK_TIME_LIMIT, settings.EXTRACTION_RESEND_SECONDS = 150, 60
    case = make_case(by=desk, stage="triage")
    item = add_media(case, name="photo.jpg", kind="photo")
    now = timezone.now()
    sent_at, started_at = now - timedelta(seconds=600), now - timedelta(seconds=300)
    Extraction.objects.create(media_item=item, extractor="exif", status="ok", sent_at=sent_at, started_at=started_at)
    rest = Extraction.objects.create(media_item=item, extractor="image", sent_at=sent_at)

    assert pipeline.requeue_stalled(waiting_messages=0) == 1
    assert sent == [rest.pk]


def test_it_resends_a_running_reading_only_once_it_is_past_the_hard_time_limit(desk, sent, settings):
    settings.CELERY_TASK_TIME_LIMIT, settings.EXTRACTION_RESEND_SECONDS = 150, 60
    case = make_case(by=desk, stage="triage")
    extraction(case, status="running", sent_ago=400, started_ago=120)
    dead = extraction(case, status="running", sent_ago=400, started_ago=300)

    assert pipeline.requeue_stalled() == 1
    assert sent == [dead.pk]


def test_it_counts_the_messages_waiting_in_the_queue():
    assert tasks.waiting_messages() >= 0


def test_it_records_one_outcome_when_a_second_delivery_claims_a_reading_under_way(desk, media_root):
    case = make_case(by=desk, stage="triage")
    item = intake.ingest_stream(
        case=case, source=io.BytesIO(jpeg_bytes()), original_name="a.jpg", by=desk, origin="test"
    ).media_item
    pk = item.extractions.get(extractor="image").pk
    # A task sent again by the sweep while the first delivery waited to retry: both claim it.
    first, second = pipeline._claim(pk), pipeline._claim(pk)

    assert pipeline._finish_claimed(second, "ok", result={"by": "second"}, error="") is True
    assert pipeline._finish_claimed(first, "ok", result={"by": "first"}, error="") is False

    recorded = Extraction.objects.get(pk=pk)
    assert (recorded.result, recorded.attempts) == ({"by": "second"}, 2)


def test_it_sends_the_screening_reading_to_its_own_queue(desk, monkeypatch, settings, media_root):
    queues = {}
    monkeypatch.setattr(
        tasks.run_extractions,
        "apply_async",
        lambda args, queue, **limits: queues.update(dict.fromkeys(args[0], queue)),
    )
    case = make_case(by=desk, stage="triage")
    item = intake.ingest_stream(
        case=case, source=io.BytesIO(jpeg_bytes()), original_name="a.jpg", by=desk, origin="t"
    ).media_item

    pipeline.enqueue_pending(item)

    by_extractor = {e.extractor: queues[e.pk] for e in item.extractions.all()}
    assert by_extractor.pop("forensics") == settings.EXTRACTION_SCREENING_QUEUE == "screening"
    assert set(by_extractor.values()) == {"celery"}
