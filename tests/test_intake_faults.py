"""Intake under faults: a database that drops out, a broker that is down, a process stopped half way."""

import hashlib
import io
import os

import pytest
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerUnreachable

from tests.factories import make_case
from tests.media import jpeg_bytes
from verify import intake, pipeline, services
from verify.intake import NotTaken, ingest_stream, original_path, settle_interrupted_intakes
from verify.models import CaseEvent, MediaItem
from workers import tasks
from workers.extractors import extractors_for

pytestmark = pytest.mark.usefixtures("media_root")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    """Retries go on at once: these tests are about what is kept, not about the backoff."""
    monkeypatch.setattr(intake, "RETRY_FIRST_WAIT", 0)


def ingest(case, data: bytes, by, name="photo.jpg"):
    return ingest_stream(case=case, source=io.BytesIO(data), original_name=name, by=by, origin="test")


def database_drops_out(monkeypatch, times: int | None = None) -> list[int]:
    """Make recording custody fail as a dropped connection does, `times` times (None: every time)."""
    failures = []
    record_event = services.record_event

    def failing(**kwargs):
        if times is None or len(failures) < times:
            failures.append(kwargs["kind"])
            raise OperationalError("server closed the connection unexpectedly")
        return record_event(**kwargs)

    monkeypatch.setattr(services, "record_event", failing)
    return failures


def files_under(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_it_records_a_file_after_the_database_drops_out_twice(desk, monkeypatch, media_root):
    case = make_case(by=desk, stage="triage")
    failures = database_drops_out(monkeypatch, times=2)
    data = jpeg_bytes(seed=3)

    result = ingest(case, data, desk)

    assert failures == ["media_collected", "media_collected"]
    assert CaseEvent.objects.filter(case=case, kind="media_collected").count() == 1
    assert result.media_item.extractions.count() == len(extractors_for("photo"))
    assert original_path(result.media_item.sha256).read_bytes() == data
    assert files_under(media_root / "incoming") == []


def test_it_reports_a_file_not_taken_and_keeps_nothing_when_the_database_stays_away(desk, monkeypatch, media_root):
    case = make_case(by=desk, stage="triage")
    failures = database_drops_out(monkeypatch)

    with pytest.raises(NotTaken, match=r"^The database could not be reached \(OperationalError: server closed"):
        ingest(case, jpeg_bytes(seed=4), desk)

    assert len(failures) == intake.RETRY_ATTEMPTS
    assert not MediaItem.objects.exists()
    assert not CaseEvent.objects.filter(case=case, kind="media_collected").exists()
    assert files_under(media_root / "originals") == []
    assert files_under(media_root / "incoming") == []


def test_it_keeps_an_original_that_another_intake_recorded_meanwhile(desk, monkeypatch, media_root):
    first, second = make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")
    data = jpeg_bytes(seed=5)
    keep = intake._keep

    def keep_then_let_another_intake_record(held, sha256):
        stored_new = keep(held, sha256)
        if stored_new:
            # The same bytes arrive for another case and are recorded while this intake is between
            # its file and its row; then the database drops out for this one.
            ingest(second, data, desk, name="same-bytes.jpg")
            database_drops_out(monkeypatch)
        return stored_new

    monkeypatch.setattr(intake, "_keep", keep_then_let_another_intake_record)
    with pytest.raises(NotTaken):
        ingest(first, data, desk)

    item = MediaItem.objects.get()
    assert list(item.cases.all()) == [second]
    assert original_path(item.sha256).read_bytes() == data
    assert files_under(media_root / "incoming") == []


def test_it_leaves_the_decision_to_the_sweep_when_the_database_cannot_say(desk, monkeypatch, media_root):
    case = make_case(by=desk, stage="triage")
    database_drops_out(monkeypatch)
    settle = intake._settle

    def unreachable(held, sha256):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(intake, "_settle", unreachable)
    data = jpeg_bytes(seed=6)
    with pytest.raises(NotTaken):
        ingest(case, data, desk)

    sha256 = hashlib.sha256(data).hexdigest()
    assert files_under(media_root / "originals") == []
    [unsettled] = files_under(media_root / "incoming")
    assert unsettled.startswith(f"unsettled-{sha256}-")

    monkeypatch.setattr(intake, "_settle", settle)
    assert settle_interrupted_intakes() == 1
    assert files_under(media_root / "incoming") == []
    assert files_under(media_root / "originals") == []


def stop_between_file_and_row(data: bytes) -> tuple[str, object]:
    """Do what an intake does up to its recording, as a process killed at that moment leaves it."""
    sha256, _, _, tmp_path = intake.store_stream(io.BytesIO(data))
    held = intake._hold(tmp_path, sha256)
    assert intake._keep(held, sha256)
    return sha256, held


def test_it_withdraws_the_original_of_an_intake_stopped_before_its_row(db, media_root):
    sha256, held = stop_between_file_and_row(jpeg_bytes(seed=7))
    assert settle_interrupted_intakes() == 0, "an intake still in flight is left alone"
    os.utime(held, (1, 1))

    assert settle_interrupted_intakes() == 1

    assert not original_path(sha256).exists()
    assert files_under(media_root) == []


def test_it_takes_an_interrupted_intakes_original_when_the_same_bytes_come_again(desk, media_root):
    case = make_case(by=desk, stage="triage")
    data = jpeg_bytes(seed=8)
    sha256, held = stop_between_file_and_row(data)

    result = ingest(case, data, desk)
    os.utime(held, (1, 1))

    assert (result.stored_new_file, result.linked_to_case) == (False, True)
    assert settle_interrupted_intakes() == 0
    assert original_path(sha256).read_bytes() == data
    assert files_under(media_root / "incoming") == []
    assert CaseEvent.objects.filter(case=case, kind="media_collected").count() == 1


def test_it_puts_back_a_recorded_original_missing_after_a_stop(desk, media_root):
    case = make_case(by=desk, stage="triage")
    data = jpeg_bytes(seed=9)
    sha256 = ingest(case, data, desk).media_item.sha256
    # A process stopped after its commit, with the copy still held and the original gone.
    held = media_root / "incoming" / f"held-{sha256}-stopped"
    os.link(original_path(sha256), held)
    original_path(sha256).unlink()
    os.utime(held, (1, 1))

    assert settle_interrupted_intakes() == 0

    assert original_path(sha256).read_bytes() == data
    assert files_under(media_root / "incoming") == []


def test_it_leaves_readings_unsent_for_the_sweep_when_the_broker_is_down_at_commit(
    desk, monkeypatch, django_capture_on_commit_callbacks
):
    case = make_case(by=desk, stage="triage")

    def broker_down(args, **options):
        raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_extractions, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        item = ingest(case, jpeg_bytes(seed=10), desk).media_item

    assert set(item.extractions.values_list("status", "sent_at")) == {("pending", None)}
    assert CaseEvent.objects.filter(case=case, kind="media_collected").count() == 1

    sent = []
    monkeypatch.setattr(tasks.run_extractions, "apply_async", lambda args, **options: sent.extend(args[0]))
    assert pipeline.requeue_stalled() == len(extractors_for("photo"))
    assert sorted(sent) == sorted(item.extractions.values_list("pk", flat=True))
    assert not item.extractions.filter(sent_at=None).exists()
    assert pipeline.requeue_stalled() == 0


def test_it_puts_the_original_back_when_the_row_committed_as_the_connection_dropped(desk, monkeypatch, media_root):
    case = make_case(by=desk, stage="triage")
    record, settle = intake._record, intake._settle
    calls = []

    def committed_but_unconfirmed(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            record(**kwargs)  # the row reaches the database; the answer does not come back
        raise OperationalError("server closed the connection unexpectedly")

    def unreachable(held, sha256):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(intake, "_record", committed_but_unconfirmed)
    monkeypatch.setattr(intake, "_settle", unreachable)
    data = jpeg_bytes(seed=11)
    with pytest.raises(NotTaken, match="the file was not taken, run the intake again$"):
        ingest(case, data, desk)
    assert files_under(media_root / "originals") == []

    monkeypatch.setattr(intake, "_settle", settle)
    assert settle_interrupted_intakes() == 0

    item = MediaItem.objects.get()
    assert original_path(item.sha256).read_bytes() == data
    assert files_under(media_root / "incoming") == []
    monkeypatch.setattr(intake, "_record", record)
    assert ingest(case, data, desk).outcome == "already in this case"
