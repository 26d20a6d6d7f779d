"""Fixity: a flipped byte in a stored file is found, flagged, marked, never served as the original, and repaired."""

import io
import os

import pytest
from django.core.management import base as management_base
from django.core.management import execute_from_command_line
from django.urls import reverse

from tests.factories import make_case
from tests.media import jpeg_bytes
from verify import flags, intake, pipeline
from verify.models import CaseEvent, Extraction, Flag
from verify.record import chain, fixity
from verify.record.models import FixityCheck, StoredFile
from workers.tasks import check_fixity_slice

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


def ingest(case, data, name="photo.jpg", by=None):
    source = io.BytesIO(data)
    return intake.ingest_stream(case=case, source=source, original_name=name, by=by, origin="test").media_item


def flip_byte(path, offset=200):
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)


def check_integrity(capsys, monkeypatch) -> tuple[int, str]:
    """`manage.py check_integrity` as the shell runs it: its exit code and what it printed."""
    # run_from_argv closes the connections when it ends, which would end the test's transaction.
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    try:
        execute_from_command_line(["manage.py", "check_integrity"])
    except SystemExit as exit:
        code = exit.code
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def two_cases(desk):
    return make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")


@pytest.fixture
def photo(two_cases, desk, media_root):
    """One photo held by two cases."""
    data = jpeg_bytes(seed=7)
    item = ingest(two_cases[0], data, by=desk)
    ingest(two_cases[1], data, name="same.jpg", by=desk)
    return item, data, media_root / intake.original_path(item.sha256).relative_to(media_root)


def read_perceptual(item):
    pipeline.run_extraction(item.extractions.get(extractor="perceptual").pk)
    return StoredFile.objects.get(media_item=item, role="derived", path__endswith="thumb.jpg")


def test_it_reports_an_intact_archive_with_what_it_checked(photo, capsys, monkeypatch):
    item, _, _ = photo
    read_perceptual(item)
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 0
    assert "Checked 1 originals and 1 derived files" in out
    assert "events in 2 case chains" in out
    assert "MB/s" in out
    assert "Every file and every chain is intact." in out


def test_it_exits_1_naming_a_flipped_byte_in_an_original_and_the_cases_holding_it(
    photo, two_cases, capsys, monkeypatch
):
    item, _, path = photo
    flip_byte(path)
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 1
    first, second = two_cases
    assert f"MISMATCH original {item.sha256[:12]} photo.jpg (cases #{first.pk}, #{second.pk})" in out
    assert f"not the recorded {item.sha256[:12]}" in out
    assert "1 problem(s) found" in out


def test_it_exits_1_naming_a_flipped_byte_in_a_derived_file(photo, capsys, monkeypatch):
    item, _, _ = photo
    thumb = read_perceptual(item)
    flip_byte(fixity.media_root() / thumb.path, offset=50)
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 1
    assert f"MISMATCH derived {thumb.sha256[:12]} perceptual/thumb.jpg" in out
    assert StoredFile.objects.get(pk=thumb.pk).is_damaged
    assert not fixity.original_of(item).is_damaged


def test_it_exits_1_naming_a_broken_link_in_a_chain(two_cases, capsys, monkeypatch):
    from django.db import connection

    from verify.record import guard

    case = two_cases[0]
    event = CaseEvent.objects.filter(case=case).order_by("pk").last()
    with guard.lifted(connection), connection.cursor() as cursor:
        cursor.execute("UPDATE verify_caseevent SET note = %s WHERE id = %s", ["edited", event.pk])
    code, out = check_integrity(capsys, monkeypatch)
    assert code == 1
    assert f"BROKEN CHAIN case #{case.pk} event #{event.pk}: content hashes to" in out


def test_a_mismatch_raises_a_high_flag_and_one_event_on_every_case_holding_the_file(photo, two_cases):
    item, _, path = photo
    flip_byte(path)
    fixity.check_everything()
    fixity.check_everything()  # found again: no second event
    for case in two_cases:
        flag = Flag.objects.get(case=case, media_item=item, kind=fixity.FILE_DAMAGED)
        assert flag.severity == Flag.Severity.HIGH
        assert "no longer matches its SHA-256" in flag.message
        damaged = CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.FILE_DAMAGED)
        assert damaged.count() == 1
        assert "hash to" in damaged.get().new["found"]
    assert chain.verify()[2] == []


def test_the_damaged_flag_survives_recomputing_the_flags(photo, two_cases):
    item, _, path = photo
    flip_byte(path)
    fixity.check_everything()
    flags.recompute_flags(two_cases[0])
    flags.recompute_flags_for_item(item)
    assert Flag.objects.filter(media_item=item, kind=fixity.FILE_DAMAGED).count() == 2


def test_the_case_page_marks_the_file_damaged_and_offers_no_download(photo, two_cases, client, desk):
    item, _, path = photo
    flip_byte(path)
    fixity.check_everything()
    client.force_login(desk)
    details = reverse("admin:verify_case_file_details", args=[two_cases[0].pk, item.pk])
    panel = client.get(details).content.decode()
    assert "DAMAGED original" in panel
    assert "original damaged: not served" in panel
    assert reverse("media-original", args=[item.sha256]) not in panel
    page = client.get(reverse("admin:verify_case_change", args=[two_cases[1].pk])).content.decode()
    assert '<span class="vd-badge vd-damaged-badge">damaged</span>' in page  # on the file's card


def test_the_download_refuses_a_damaged_original_even_before_any_check_ran(photo, client, desk):
    item, _, path = photo
    flip_byte(path)
    client.force_login(desk)
    response = client.get(reverse("media-original", args=[item.sha256]))
    assert response.status_code == 409
    assert response["X-Verify-Fixity"] == "damaged"
    text = response.content.decode()
    assert f"The stored original of photo.jpg (SHA-256 {item.sha256[:12]}…) is damaged and is not served" in text
    assert "Ingest the original file again to repair it" in text
    assert fixity.original_of(item).is_damaged  # the download itself found it


def test_the_download_refuses_a_damaged_derived_file(photo, client, desk):
    item, _, _ = photo
    thumb = read_perceptual(item)
    flip_byte(fixity.media_root() / thumb.path, offset=50)
    client.force_login(desk)
    response = client.get(reverse("media-artifact", args=[item.sha256, "perceptual", "thumb.jpg"]))
    assert response.status_code == 409
    assert "re-running its reader" in response.content.decode()


def test_reingesting_the_identical_bytes_repairs_the_stored_copy(photo, two_cases, desk, capsys, monkeypatch):
    item, data, path = photo
    flip_byte(path)
    fixity.check_everything()
    third = make_case(by=desk, stage="triage")
    ingest(third, data, name="clean.jpg", by=desk)
    assert path.read_bytes() == data
    assert not os.stat(path).st_mode & 0o222
    assert not fixity.original_of(item).is_damaged
    assert not Flag.objects.filter(kind=fixity.FILE_DAMAGED).exists()
    for case in two_cases:
        repaired = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.FILE_REPAIRED)
        assert repaired.actor == desk
        assert "replaced the damaged stored copy" in repaired.note
    assert check_integrity(capsys, monkeypatch)[0] == 0


def test_reingesting_repairs_a_damaged_copy_no_check_had_found_yet(photo, two_cases, desk):
    item, data, path = photo
    flip_byte(path)
    ingest(two_cases[0], data, by=desk)
    assert path.read_bytes() == data
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.FILE_REPAIRED).count() == 2


def test_rerunning_the_reader_regenerates_a_damaged_derived_file(photo):
    item, _, _ = photo
    thumb = read_perceptual(item)
    flip_byte(fixity.media_root() / thumb.path, offset=50)
    fixity.check_everything()
    Extraction.objects.filter(media_item=item, extractor="perceptual").update(status="pending")
    read_perceptual(item)
    assert not StoredFile.objects.filter(damaged_at__isnull=False).exists()
    assert not Flag.objects.filter(kind=fixity.FILE_DAMAGED).exists()


def test_beat_checks_the_archive_in_slices_that_cover_it_once_per_period(desk, settings):
    settings.FIXITY_PERIOD_HOURS, settings.FIXITY_SLICE_MINUTES = 1, 20  # three passes per period
    cases = [make_case(by=desk, stage="triage") for _ in range(3)]
    for n, case in enumerate(cases):
        ingest(case, jpeg_bytes(seed=10 + n), by=desk)
        ingest(case, jpeg_bytes(seed=20 + n), by=desk)
    passes = [FixityCheck.objects.get(pk=check_fixity_slice()) for _ in range(3)]
    assert [p.scope for p in passes] == ["slice"] * 3
    assert [p.files_checked for p in passes] == [2, 2, 2]
    assert [p.cases_checked for p in passes] == [1, 1, 1]
    assert [p.last_case_id for p in passes] == [c.pk for c in cases]
    assert all(p.findings == [] for p in passes)
    assert not StoredFile.objects.filter(last_checked_at__isnull=True).exists()
    assert sum(p.events_checked for p in passes) == CaseEvent.objects.count()
    # The fourth pass starts again with the files checked longest ago and the first case.
    oldest = list(StoredFile.objects.order_by("last_checked_at", "pk").values_list("pk", flat=True)[:2])
    fourth = fixity.check_next_slice()
    assert fourth.last_case_id == cases[0].pk
    assert set(StoredFile.objects.order_by("-last_checked_at")[:2].values_list("pk", flat=True)) == set(oldest)


def test_beat_records_a_pass_that_finds_a_flipped_byte(photo, settings):
    settings.FIXITY_PERIOD_HOURS, settings.FIXITY_SLICE_MINUTES = 1, 60
    item, _, path = photo
    flip_byte(path)
    check = FixityCheck.objects.get(pk=check_fixity_slice())
    assert check.originals_checked == 1
    assert check.bytes_checked == path.stat().st_size
    assert [(f["what"], f["sha256"], f["name"]) for f in check.findings] == [("file", item.sha256, "photo.jpg")]
    assert Flag.objects.filter(media_item=item, kind=fixity.FILE_DAMAGED).count() == 2


def test_a_slice_is_sized_for_the_configured_period(settings):
    settings.FIXITY_PERIOD_HOURS, settings.FIXITY_SLICE_MINUTES = 7 * 24, 5
    assert fixity.passes_per_period() == 2016  # a file in 2,016 is checked every 5 minutes
