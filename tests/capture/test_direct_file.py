"""A link that serves a file, not a page: fetched by the guarded client with its size cap, no browser, no yt-dlp."""

import hashlib

import pytest

from tests.capture.conftest import PHOTO
from tests.factories import make_case
from verify.capture import jobs
from verify.models import CaptureJob, MediaItem

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")
PAGE_STEPS = ("screenshot", "pdf", "archive")


@pytest.fixture(autouse=True)
def quick(settings, monkeypatch):
    settings.CAPTURE_PAGE_SECONDS = 6
    settings.URL_DOWNLOAD_TIMEOUT = 5
    monkeypatch.setattr(jobs, "send", lambda job_id: None)


def capture(case, url, by) -> CaptureJob:
    job = jobs.queue_capture(case=case, url=url, by=by)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    return job


def test_a_video_link_is_fetched_once_by_the_guarded_client_and_has_no_page_to_keep(desk, site, clips):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/clip.mp4", desk)
    assert job.status == "done"
    assert job.steps["media"]["outcome"] == "ok"
    assert "fetched by the desk's guarded client" in job.steps["media"]["reason"]
    assert [item.sha256 for item in job.media_items.all()] == [hashlib.sha256(clips[0]).hexdigest()]
    assert job.media_items.get().kind == "video"
    for step in PAGE_STEPS:
        assert job.steps[step] == {
            "outcome": "unavailable",
            "reason": "the link serves a file (video/mp4), not a page: there is no page to keep",
        }
    assert site.seen == [("127.0.0.1", "/clip.mp4")]  # neither Chromium nor yt-dlp asked for it again
    assert (job.sighting.url, job.sighting.media_item) == (f"{site.url}/clip.mp4", job.media_items.get())
    assert job.facts["content_type"] == "video/mp4"


def test_a_photo_link_is_kept_as_a_photo(desk, site):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/photo.jpg", desk)
    item = job.media_items.get()
    assert (item.kind, item.sha256) == ("photo", hashlib.sha256(PHOTO).hexdigest())
    assert job.steps["archive"]["reason"].startswith("the link serves a file (image/jpeg), not a page")


def test_a_file_announced_over_the_size_cap_is_refused_and_nothing_is_stored(desk, site, settings):
    settings.MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/big.mp4", desk)
    assert job.status == "failed"
    for outcome in job.steps.values():
        assert outcome["outcome"] == "failed"
        assert outcome["reason"].startswith("refused by the desk's rules: The server says the file is ")
        assert outcome["reason"].endswith("over the 2 MiB limit; nothing was downloaded.")
    assert not MediaItem.objects.exists()
    assert site.seen == [("127.0.0.1", "/big.mp4")]


def test_a_file_that_runs_past_the_size_cap_unannounced_is_stopped_and_nothing_is_stored(desk, site, settings):
    settings.MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/big-unannounced.mp4", desk)
    assert job.status == "failed"
    assert job.steps["media"]["outcome"] == "failed"
    assert "ran past the" in job.steps["media"]["reason"] and "nothing was stored" in job.steps["media"]["reason"]
    assert {job.steps[step]["outcome"] for step in PAGE_STEPS} == {"unavailable"}
    assert not MediaItem.objects.exists()
