"""The pipeline's bookkeeping: one outcome per extractor, redelivery-safe, and cases that never get stuck."""

import io
import logging
import struct
import types

import pytest
from django.core.management import CommandError, call_command
from django.db import InterfaceError, OperationalError

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from verify import flags, intake, pipeline
from verify.models import CaseEvent, Extraction, Flag, MediaItem
from workers import tasks
from workers.extractors import extractors_for

GPS_JPEG_EXIF = {0x010F: "Canon", 0x0110: "Canon EOS 5D", 0x0131: "Adobe Photoshop 25.0"}


pytestmark = pytest.mark.usefixtures("media_root")


@pytest.fixture
def eager(settings):
    """Run tasks in this process when they are sent (unit tests; the end-to-end test uses a real worker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.run_extraction.app.conf.task_always_eager = True
    yield
    tasks.run_extraction.app.conf.task_always_eager = False


def ingest(case, data, by, name="photo.jpg"):
    return intake.ingest_stream(case=case, source=io.BytesIO(data), original_name=name, by=by, origin="test")


def test_it_reads_a_photo_and_moves_the_case_to_review_by_itself(desk, eager, django_capture_on_commit_callbacks):
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True):
        item = ingest(case, jpeg_bytes(exif=GPS_JPEG_EXIF), desk).media_item
    statuses = dict(item.extractions.values_list("extractor", "status"))
    assert statuses == {module.NAME: "ok" for module in extractors_for("photo")}
    assert {"exif", "image", "c2pa", "perceptual", "forensics"} <= set(statuses)
    item.refresh_from_db()
    assert (item.device, item.software, item.width, item.height) == ("Canon EOS 5D", "Adobe Photoshop 25.0", 64, 48)
    case.refresh_from_db()
    assert case.stage == "in_review"
    last = CaseEvent.objects.filter(case=case, kind="stage_changed").last()
    assert (last.actor, last.note) == (None, "Every file's extractions have an outcome")


def test_it_does_nothing_twice_when_a_task_is_redelivered(desk):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    extraction = item.extractions.get(extractor="image")
    assert pipeline.run_extraction(extraction.pk) == "ok"
    first = Extraction.objects.get(pk=extraction.pk)
    assert pipeline.run_extraction(extraction.pk) is None
    again = Extraction.objects.get(pk=extraction.pk)
    assert (again.finished_at, again.attempts) == (first.finished_at, 1)
    assert item.extractions.filter(extractor="image").count() == 1


def test_it_stops_retrying_a_file_that_keeps_killing_the_worker(desk, settings):
    settings.EXTRACTION_MAX_ATTEMPTS = 2
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    # Two deliveries that died mid-run (the row stays "running"), then a third.
    item.extractions.update(status="running", attempts=2)
    extraction = item.extractions.get(extractor="exif")
    assert pipeline.run_extraction(extraction.pk) is None
    extraction.refresh_from_db()
    assert extraction.status == "failed"
    assert extraction.error == (
        "The worker stopped 2 times while reading this file (crash or hard time limit); it was not tried again."
    )


def test_it_records_a_broken_file_and_still_finishes_collecting(desk, eager, django_capture_on_commit_callbacks):
    case = make_case(by=desk, stage="triage")
    broken = jpeg_bytes(size=(300, 300))[:700]
    with django_capture_on_commit_callbacks(execute=True):
        item = ingest(case, broken, desk, name="cut.jpg").media_item
    outcomes = {e.extractor: (e.status, e.error) for e in item.extractions.all()}
    assert all(status != "pending" and status != "running" for status, _ in outcomes.values())
    failed = [error for status, error in outcomes.values() if status == "failed"]
    assert failed and all(error.strip() for error in failed)
    case.refresh_from_db()
    assert case.stage == "in_review"


def test_it_resends_stalled_extractions(desk, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    MediaItem.objects.filter(pk=item.pk).update(collected_at=item.collected_at.replace(year=2020))
    sent = []
    monkeypatch.setattr(tasks.run_extractions, "apply_async", lambda args, **options: sent.extend(args[0]))
    assert pipeline.requeue_stalled() == len(extractors_for("photo"))
    assert sorted(sent) == sorted(item.extractions.values_list("pk", flat=True))


def test_it_ingests_a_folder_from_the_command_line_with_a_summary(desk, tmp_path, tasks_not_sent, capsys):
    case = make_case(by=desk, stage="triage")
    folder = tmp_path / "drop"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg_bytes(seed=1))
    (folder / "sub" / "b.jpg").write_bytes(jpeg_bytes(seed=2))
    (folder / "sub" / "copy-of-a.jpg").write_bytes(jpeg_bytes(seed=1))
    (folder / "notes.txt").write_text("tip from a reader")
    call_command("ingest", str(folder), "--case", str(case.pk), "--as", desk.username)
    out = capsys.readouterr().out
    assert "4/4" in out
    assert f"4 file(s) into case #{case.pk}: 1 already in this case, 2 stored, 1 stored, unsupported kind" in out
    assert case.media_items.count() == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--case", "999"], "No case #999 exists"),
        (["--case", "{case}", "--as", "nobody"], "No user named 'nobody'"),
        (["--case", "{case}", "/does/not/exist"], "/does/not/exist: no such file or folder"),
    ],
)
def test_it_names_what_is_wrong_with_an_ingest_command(desk, tmp_path, args, message):
    case = make_case(by=desk, stage="triage")
    args = [a.replace("{case}", str(case.pk)) for a in args]
    paths = [] if any(a.startswith("/") for a in args) else [str(tmp_path)]
    with pytest.raises(CommandError, match=message):
        call_command("ingest", *paths, *args)


def test_it_refuses_ingest_as_a_user_without_a_desk_role(desk, tmp_path):
    case = make_case(by=desk, stage="triage")
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes())
    outsider = make_user(username="outsider")
    with pytest.raises(CommandError, match="No file could be stored"):
        call_command("ingest", str(tmp_path), "--case", str(case.pk), "--as", outsider.username)


def test_it_records_a_reader_stopped_by_the_soft_time_limit(desk, settings, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from workers.extractors import registry

    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    exif = registry()["exif"]

    def too_slow(path, artifacts_dir):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(exif, "extract", too_slow)
    extraction = item.extractions.get(extractor="exif")
    assert pipeline.run_extraction(extraction.pk) == "timed_out"
    extraction.refresh_from_db()
    assert extraction.error == (
        f"Reading the file took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped."
    )


@pytest.fixture
def broken_reader(monkeypatch):
    """An extractor, registered for this test only, that raises what its `error` attribute holds."""
    from workers.extractors import registry

    module = types.ModuleType("workers.extractors.broken")
    module.NAME, module.VERSION, module.KINDS = "broken", "1", ("photo",)
    module.error = struct.error("unpack requires a buffer of 4 bytes")

    def extract(path, artifacts_dir):
        raise module.error

    module.extract = extract
    monkeypatch.setitem(registry(), module.NAME, module)
    return module


def test_it_records_an_unexpected_error_in_a_reader_as_failed_and_logs_it(desk, broken_reader, caplog):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    item.extractions.exclude(extractor="broken").update(status="ok")
    extraction = item.extractions.get(extractor="broken")
    with caplog.at_level(logging.ERROR, logger="verify.pipeline"):
        assert pipeline.run_extraction(extraction.pk) == "failed"
    extraction.refresh_from_db()
    assert extraction.error == (
        "The broken reader hit an unexpected error on this file (struct.error: unpack requires a buffer of 4 bytes)."
    )
    [record] = [r for r in caplog.records if r.name == "verify.pipeline"]
    assert record.getMessage() == f"Extractor broken failed on {item.sha256}"
    assert record.exc_info[0] is struct.error
    case.refresh_from_db()
    assert case.stage == "in_review"


def test_it_lets_a_database_error_in_a_reader_through_for_the_task_to_retry(desk, broken_reader):
    broken_reader.error = OperationalError("server closed the connection unexpectedly")
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    extraction = item.extractions.get(extractor="broken")
    with pytest.raises(OperationalError):
        pipeline.run_extraction(extraction.pk)
    extraction.refresh_from_db()
    assert (extraction.status, extraction.error) == ("running", "")


def test_it_records_a_reader_killed_at_the_hard_time_limit_and_finishes_collecting(desk):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    item.extractions.exclude(extractor="forensics").update(status="ok")
    extraction = item.extractions.get(extractor="forensics")
    extraction.status = "running"
    extraction.save()
    assert pipeline.record_stopped_by_time_limit(extraction.pk, seconds=150) == "timed_out"
    extraction.refresh_from_db()
    assert extraction.error == "Reading the file took longer than 150 s; the worker stopped it."
    case.refresh_from_db()
    assert case.stage == "in_review"


def test_it_leaves_an_outcome_alone_when_the_time_limit_report_comes_late(desk):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    extraction = item.extractions.get(extractor="image")
    pipeline.run_extraction(extraction.pk)
    assert pipeline.record_stopped_by_time_limit(extraction.pk, seconds=150) is None
    extraction.refresh_from_db()
    assert extraction.status == "ok"


def test_it_has_the_task_record_a_hard_time_limit_when_celery_reports_it(desk):
    from celery.exceptions import TimeLimitExceeded

    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    item.extractions.update(status="running")
    exif, image = item.extractions.get(extractor="exif"), item.extractions.get(extractor="image")
    # What Celery's worker calls after killing the task (celery.worker.request.Request.on_timeout).
    tasks.run_extraction.on_failure(TimeLimitExceeded(150), "task-1", (exif.pk,), {}, None)
    tasks.run_extraction.on_failure(ValueError("not a time limit"), "task-2", (image.pk,), {}, None)
    exif.refresh_from_db()
    image.refresh_from_db()
    assert (exif.status, exif.error) == ("timed_out", "Reading the file took longer than 150 s; the worker stopped it.")
    assert image.status == "running"


def test_it_configures_the_extraction_task_to_survive_a_lost_worker():
    task = tasks.run_extraction
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert task.app.conf.worker_prefetch_multiplier == 1
    soft, hard = task.app.conf.task_soft_time_limit, task.app.conf.task_time_limit
    assert soft and hard and soft < hard


def test_it_retries_the_task_when_the_database_is_briefly_unreachable(desk, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    extraction = item.extractions.get(extractor="image")
    real, calls = pipeline.run_extraction, []

    def unreachable_once(extraction_id):
        calls.append(extraction_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(extraction_id)

    monkeypatch.setattr(pipeline, "run_extraction", unreachable_once)
    outcome = tasks.run_extraction.apply(args=(extraction.pk,))
    assert (outcome.state, outcome.result) == ("SUCCESS", "ok")
    assert calls == [extraction.pk, extraction.pk]


def test_it_does_not_retry_the_task_for_a_file_that_cannot_be_read(desk, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(size=(300, 300))[:700], desk, name="cut.jpg").media_item
    extraction = item.extractions.get(extractor="image")
    real, calls = pipeline.run_extraction, []
    monkeypatch.setattr(pipeline, "run_extraction", lambda pk: calls.append(pk) or real(pk))
    outcome = tasks.run_extraction.apply(args=(extraction.pk,))
    assert (outcome.state, outcome.result) == ("SUCCESS", "failed")
    assert calls == [extraction.pk]
    extraction.refresh_from_db()
    assert extraction.attempts == 1


def test_it_moves_a_second_case_on_when_its_file_was_already_read(desk, eager, django_capture_on_commit_callbacks):
    first, second = make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")
    data = jpeg_bytes(exif=GPS_JPEG_EXIF)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(first, data, desk)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(second, data, desk, name="copy.jpg")
    second.refresh_from_db()
    assert second.stage == "in_review"
    assert second.flags.filter(kind="editing-software").exists()


def test_it_finishes_collecting_when_it_gives_up_on_a_file(desk, settings):
    settings.EXTRACTION_MAX_ATTEMPTS = 1
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    item.extractions.update(status="running", attempts=1)  # every reader died once already
    for extraction in item.extractions.all():
        pipeline.run_extraction(extraction.pk)
    case.refresh_from_db()
    assert case.stage == "in_review"
    assert set(item.extractions.values_list("status", flat=True)) == {"failed"}


def test_it_makes_the_flags_and_summary_once_their_readings_have_outcomes(desk, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(exif=GPS_JPEG_EXIF), desk).media_item
    recomputed = []
    real_recompute = pipeline.flags.recompute_flags_for_item
    monkeypatch.setattr(pipeline.flags, "recompute_flags_for_item", lambda item: recomputed.append(item.pk))

    for extractor in ("exif", "image", "c2pa"):
        pipeline.run_extraction(item.extractions.get(extractor=extractor).pk)
    assert recomputed == []
    monkeypatch.setattr(
        pipeline.flags, "recompute_flags_for_item", lambda item: recomputed.append(item.pk) or real_recompute(item)
    )
    pipeline.run_extraction(item.extractions.get(extractor="perceptual").pk)

    assert recomputed == [item.pk]
    item.refresh_from_db()
    assert item.software == "Adobe Photoshop 25.0"
    assert Flag.objects.filter(case=case, media_item=item, kind=flags.EDITING_SOFTWARE).exists()
    case.refresh_from_db()
    assert case.stage == "collecting"


def test_it_moves_the_case_on_after_the_screening_reading_without_redoing_the_flags(desk, monkeypatch):
    case = make_case(by=desk, stage="triage")
    item = ingest(case, jpeg_bytes(), desk).media_item
    for extraction in item.extractions.exclude(extractor="forensics"):
        pipeline.run_extraction(extraction.pk)
    recomputed = []
    monkeypatch.setattr(pipeline.flags, "recompute_flags_for_item", lambda item: recomputed.append(item.pk))

    assert pipeline.run_extraction(item.extractions.get(extractor="forensics").pk) == "ok"

    assert recomputed == []
    case.refresh_from_db()
    assert case.stage == "in_review"
