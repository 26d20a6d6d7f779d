"""A file's readings travel in one task per queue: first readings before screening, each with its own outcome."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_case
from tests.media import jpeg_bytes
from verify import intake, pipeline
from workers import tasks
from workers.extractors import extractors_for, registry

pytestmark = pytest.mark.usefixtures("media_root")


@pytest.fixture
def messages(monkeypatch):
    """The tasks handed to the broker, in order: (extraction ids, queue, time limits)."""
    handed = []
    monkeypatch.setattr(
        tasks.run_extractions,
        "apply_async",
        lambda args, queue, **limits: handed.append((args[0], queue, limits)),
    )
    return handed


def ingest(case, data, by, name="photo.jpg"):
    return intake.ingest_stream(case=case, source=io.BytesIO(data), original_name=name, by=by, origin="test")


def test_it_sends_a_photos_readings_as_one_task_per_queue_screening_last(desk, messages, settings):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item

    assert pipeline.enqueue_pending(item) == len(extractors_for("photo"))

    by_id = dict(item.extractions.values_list("pk", "extractor"))
    sent = [([by_id[pk] for pk in ids], queue) for ids, queue, _ in messages]
    first_readings = [module.NAME for module in extractors_for("photo") if module.NAME != "forensics"]
    assert sent == [(first_readings, "celery"), (["forensics"], settings.EXTRACTION_SCREENING_QUEUE)]


def test_it_sends_every_files_first_readings_before_any_screening(desk, messages, settings):
    case = make_case(by=desk, stage="triage")
    for seed in (1, 2):
        ingest(case, jpeg_bytes(seed=seed), desk, name=f"{seed}.jpg")

    assert pipeline.requeue_stalled() == 2 * len(extractors_for("photo"))

    assert [queue for _, queue, _ in messages] == ["celery", "celery", "screening", "screening"]


def test_it_gives_a_task_of_several_readings_the_time_limit_of_each(desk, messages, settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT = 120, 150
    case = make_case(by=desk, stage="triage")
    pipeline.enqueue_pending(ingest(case, jpeg_bytes(), desk).media_item)

    for ids, _, limits in messages:
        assert limits == {"soft_time_limit": 120 * len(ids), "time_limit": 120 * len(ids) + 30}


def test_it_records_each_reading_of_a_task_with_its_own_outcome(desk):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(exif={0x0131: "Adobe Photoshop 25.0"}), desk).media_item
    ids = list(item.extractions.order_by("pk").values_list("pk", flat=True))

    assert tasks.run_extractions.apply(args=(ids,)).result == ["ok"] * len(ids)

    assert set(item.extractions.values_list("status", "attempts")) == {("ok", 1)}
    case.refresh_from_db()
    assert case.stage == "in_review"
    assert case.flags.filter(kind="editing-software").exists()


def test_it_skips_the_readings_of_a_redelivered_task_that_already_have_an_outcome(desk):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    ids = list(item.extractions.order_by("pk").values_list("pk", flat=True))
    pipeline.run_extraction(ids[0])

    assert pipeline.run_extractions(ids) == [None] + ["ok"] * (len(ids) - 1)
    assert item.extractions.get(pk=ids[0]).attempts == 1


def test_it_sends_the_rest_again_when_the_soft_time_limit_stops_a_reading(desk, monkeypatch, messages, settings):
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 120
    from celery.exceptions import SoftTimeLimitExceeded

    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    exif = item.extractions.get(extractor="exif")
    rest = list(item.extractions.exclude(pk=exif.pk).order_by("pk").values_list("pk", flat=True))

    def too_slow(path, artifacts_dir):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(registry()["exif"], "extract", too_slow)
    assert pipeline.run_extractions([exif.pk, *rest]) == ["timed_out"]

    exif.refresh_from_db()
    assert exif.error == (
        f"Reading the file was stopped after 0 s, when the {len(rest) + 1} readings of this file run together "
        f"had taken their {120 * (len(rest) + 1)} s."
    )
    assert sorted(pk for ids, _, _ in messages for pk in ids) == rest


def test_it_records_the_reading_a_killed_task_was_running_and_sends_the_rest_again(desk, messages):
    from celery.exceptions import TimeLimitExceeded

    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    exif, image = item.extractions.get(extractor="exif"), item.extractions.get(extractor="image")
    pipeline.run_extraction(exif.pk)
    item.extractions.filter(pk=image.pk).update(status="running", started_at=timezone.now() - timedelta(seconds=40))
    waiting = list(item.extractions.filter(status="pending").order_by("pk").values_list("pk", flat=True))

    tasks.run_extractions.on_failure(TimeLimitExceeded(630), "task-1", ([exif.pk, image.pk, *waiting],), {}, None)

    image.refresh_from_db()
    assert image.status == "timed_out"
    assert image.error == "Reading the file took longer than 40 s; the worker stopped it."
    assert item.extractions.get(pk=exif.pk).status == "ok"
    assert sorted(pk for ids, _, _ in messages for pk in ids) == waiting
