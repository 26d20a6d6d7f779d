"""Readings not finished yet say "pending", never "none", on the case page and its refresh endpoints."""

import pytest
from django.urls import reverse

from tests.factories import make_case
from verify import intake, pipeline
from verify.case_story import case_story
from verify.models import Extraction

KURSK = (51.7304, 36.1926)


@pytest.fixture
def reading_case(desk, corpus, media_root, tasks_not_sent):
    """A case about Kursk with a photo that has GPS and a capture time, whose readings have not run yet."""
    case = make_case(
        by=desk, stage="triage", claimed_place="Kursk", claimed_latitude=KURSK[0], claimed_longitude=KURSK[1]
    )
    intake.ingest_path(case=case, path=corpus / "photos/DSCN0010.jpg", by=desk)
    return case


def read_everything() -> None:
    for extraction in Extraction.objects.filter(status=Extraction.Status.PENDING).order_by("pk"):
        pipeline.run_extraction(extraction.pk)


def test_it_says_pending_for_a_file_still_being_read(reading_case):
    story = case_story(reading_case)

    (capture,) = [event for event in story["undated"] if event["kind"] == "capture"]
    assert capture["pending"]
    assert capture["why_unknown"] == "Capture time pending: the file is still being read"
    assert [item.original_name for item in story["files_gps_pending"]] == ["DSCN0010.jpg"]
    assert story["files_without_gps"] == []


def test_it_says_none_only_once_every_reading_has_an_outcome(desk, media_root, tasks_not_sent):
    import io

    from tests.media import jpeg_bytes

    case = make_case(by=desk, stage="triage")
    intake.ingest_stream(case=case, source=io.BytesIO(jpeg_bytes()), original_name="bare.jpg", by=desk, origin="tip")
    read_everything()

    story = case_story(case)

    (capture,) = [event for event in story["undated"] if event["kind"] == "capture"]
    assert (capture["pending"], capture["why_unknown"]) == (False, "No capture time in the file")
    assert [item.original_name for item in story["files_without_gps"]] == ["bare.jpg"]


def test_it_refreshes_timeline_places_and_summary_when_the_readings_finish(client, reading_case, desk):
    client.force_login(desk)
    story_url = reverse("admin:verify_case_story", args=[reading_case.pk])
    panel_url = reverse("admin:verify_case_media_panel", args=[reading_case.pk])
    page = client.get(reverse("admin:verify_case_change", args=[reading_case.pk])).text

    for text in (page, client.get(story_url).text):
        assert "Capture time pending: the file is still being read" in text
        assert "GPS pending for DSCN0010.jpg: still being read." in text
        assert "No capture time in the file" not in text and "No GPS reading" not in text
    item = reading_case.media_items.get()
    details_url = reverse("admin:verify_case_file_details", args=[reading_case.pk, item.pk])
    details = client.get(details_url).text
    assert details.count('<span class="vd-pending">pending</span>') >= 3  # captured, device, GPS at least
    assert "none in the file" not in details and "not recorded" not in details
    panel = client.get(panel_url).text
    assert 'capture time <span class="vd-pending">pending</span>' in panel  # the file's card
    assert "no GPS" not in panel and "no capture time" not in panel

    read_everything()

    story = client.get(story_url).text
    assert "pending" not in story
    assert "43.467448, 11.885127" in story  # the GPS reading, now among the places
    assert "Captured: DSCN0010.jpg" in story and "22 Oct 2008, 16:28:39 local" in story
    panel = client.get(panel_url).text
    assert "vd-pending" not in panel and 'data-pending="0"' in panel
    details = client.get(details_url).text
    assert "NIKON" in details and "43.467448, 11.885127" in details
