"""manage.py ingest: empty and hidden files, a batch the database interrupts, and running it again."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from tests.factories import make_case
from tests.media import jpeg_bytes
from verify import intake, services
from verify.models import CaseEvent, Extraction

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture
def folder(tmp_path):
    drop = tmp_path / "drop"
    (drop / ".thumbnails").mkdir(parents=True)
    for number in range(3):
        (drop / f"photo-{number}.jpg").write_bytes(jpeg_bytes(seed=20 + number))
    return drop


def ingest(folder, case, *args, stderr=None) -> str:
    out = StringIO()
    call_command("ingest", str(folder), "--case", str(case.pk), *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def test_it_refuses_an_empty_file_with_a_line_in_the_summary(desk, folder):
    case = make_case(by=desk, stage="triage")
    (folder / "empty.jpg").write_bytes(b"")
    err = StringIO()

    out = ingest(folder, case, stderr=err)

    assert f"4 file(s) into case #{case.pk}: 1 empty, refused, 3 stored" in out
    assert f"{folder / 'empty.jpg'}: The file is empty (0 bytes); nothing was stored" in err.getvalue()
    assert case.media_items.count() == 3


def test_it_skips_hidden_files_in_folders_and_says_how_many(desk, folder):
    case = make_case(by=desk, stage="triage")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumbnails" / "photo-0.jpg").write_bytes(jpeg_bytes(seed=99))

    out = ingest(folder, case)

    assert f"3 file(s) into case #{case.pk}: 3 stored" in out
    assert "2 hidden file(s) skipped (names starting with '.'); --include-hidden takes them" in out
    assert sorted(case.media_items.values_list("original_name", flat=True)) == [f"photo-{n}.jpg" for n in range(3)]


def test_it_takes_hidden_files_when_asked(desk, folder):
    case = make_case(by=desk, stage="triage")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumbnails" / "photo-0.jpg").write_bytes(jpeg_bytes(seed=99))

    out = ingest(folder, case, "--include-hidden")

    assert f"5 file(s) into case #{case.pk}: 4 stored, 1 stored, unsupported kind" in out
    assert "hidden" not in out


def test_it_changes_nothing_when_run_again_over_the_same_folder(desk, folder, tasks_not_sent):
    case = make_case(by=desk, stage="triage")
    ingest(folder, case)
    events = list(CaseEvent.objects.filter(case=case).values_list("pk", flat=True))
    extractions = list(Extraction.objects.values_list("pk", "status", "sent_at"))
    queued = list(tasks_not_sent)

    out = ingest(folder, case)

    assert f"3 file(s) into case #{case.pk}: 3 already in this case" in out
    assert list(CaseEvent.objects.filter(case=case).values_list("pk", flat=True)) == events
    assert list(Extraction.objects.values_list("pk", "status", "sent_at")) == extractions
    assert tasks_not_sent == queued


def test_it_reports_files_not_taken_and_takes_them_when_run_again(desk, folder, monkeypatch):
    monkeypatch.setattr(intake, "RETRY_FIRST_WAIT", 0)
    case = make_case(by=desk, stage="triage")
    record_event = services.record_event

    def drops_out_for_photo_1(**kwargs):
        if (kwargs.get("new") or {}).get("original_name") == "photo-1.jpg":
            raise OperationalError("server closed the connection unexpectedly")
        return record_event(**kwargs)

    monkeypatch.setattr(services, "record_event", drops_out_for_photo_1)
    err = StringIO()
    with pytest.raises(CommandError, match=r"^1 file\(s\) not taken because the database was unavailable; run the"):
        ingest(folder, case, stderr=err)
    assert f"{folder / 'photo-1.jpg'}: not taken: The database could not be reached" in err.getvalue()
    assert sorted(case.media_items.values_list("original_name", flat=True)) == ["photo-0.jpg", "photo-2.jpg"]

    monkeypatch.setattr(services, "record_event", record_event)
    out = ingest(folder, case)

    assert f"3 file(s) into case #{case.pk}: 2 already in this case, 1 stored" in out
    assert CaseEvent.objects.filter(case=case, kind="media_collected").count() == 3
