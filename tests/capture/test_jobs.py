"""Capture jobs against the local site: every step's outcome, files through intake, facts into a sighting."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from tests.capture.conftest import CAPTION, CHANNEL, POST, telegram_url
from tests.factories import make_case
from verify.capture import jobs
from verify.intake import IntakeError
from verify.models import CaptureJob, CaseEvent, MediaItem, PlatformCookies, Sighting

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture(autouse=True)
def quick(settings):
    settings.CAPTURE_PAGE_SECONDS = 6
    settings.URL_DOWNLOAD_TIMEOUT = 5


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(jobs, "send", ids.append)
    return ids


def capture(case, url, by, **kwargs) -> CaptureJob:
    job = jobs.queue_capture(case=case, url=url, by=by, **kwargs)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    return job


def outcomes(job) -> dict:
    return {step: outcome["outcome"] for step, outcome in job.steps.items()}


def test_it_captures_a_telegram_album_with_its_facts_screenshot_pdf_and_archive(desk, site, sent, clips):
    case = make_case(by=desk, stage="triage")
    job = capture(case, telegram_url(), desk)
    assert outcomes(job) == dict.fromkeys(jobs.STEPS, "ok")
    assert job.status == "done"
    hashes = {item.sha256 for item in job.media_items.all()}
    assert hashes == {hashlib.sha256(clip).hexdigest() for clip in clips}
    assert {item.kind for item in job.media_items.all()} == {"video"}
    assert job.screenshot.kind == "photo" and job.screenshot.mime_type == "image/png"
    assert (job.pdf.kind, job.pdf.original_name) == ("other", "pdf-page.pdf")
    assert job.archive.original_name == "archive-page.mhtml"
    facts = job.facts
    assert (facts["platform"], facts["account"], facts["account_id"]) == ("telegram", "Kursk Watch", CHANNEL)
    assert facts["posted_text"] == "2024-11-05T14:03:11+00:00"
    assert (facts["views"], facts["item_count"], facts["caption"]) == ("48.2K", 3, CAPTION)
    assert facts["canonical_url"] == "https://t.me/kursk_watch/2041"
    sightings = Sighting.objects.filter(case=case)
    assert sightings.count() == 3
    assert {s.media_item.sha256 for s in sightings} == hashes
    first = sightings.first()
    assert (first.role, first.platform, first.account) == ("appearance", "telegram", "Kursk Watch (kursk_watch)")
    assert first.posted_at.isoformat() == "2024-11-05T14:03:11+00:00"
    assert first.caption == CAPTION


def test_each_kept_file_has_custody_naming_the_capture(desk, site, sent):
    case = make_case(by=desk, stage="triage")
    job = capture(case, f"{site.url}/post", desk)
    assert outcomes(job) == dict.fromkeys(jobs.STEPS, "ok")
    collected = CaseEvent.objects.filter(case=case, kind="media_collected")
    assert collected.count() == 4  # the video, the screenshot, the PDF and the archive
    assert all(f"capture #{job.pk} of {site.url}/post" in str(event.new) + event.note for event in collected)
    kinds = list(CaseEvent.objects.filter(case=case, kind="post_capture").values_list("new__status", flat=True))
    assert kinds == ["queued", "running", "done"]


def test_a_plain_page_gives_its_open_graph_video_and_facts_with_the_time_zone(desk, site, sent, clips):
    case = make_case(by=desk, stage="triage")
    job = capture(case, f"{site.url}/post", desk)
    assert [item.sha256 for item in job.media_items.all()] == [hashlib.sha256(clips[0]).hexdigest()]
    assert job.facts["posted_text"] == "2024-11-06T08:30:00+01:00"
    assert job.facts["account"] == "Local Herald"
    sighting = job.sighting
    assert sighting.posted_at.isoformat() == "2024-11-06T07:30:00+00:00"


def test_a_page_without_media_still_gives_its_screenshot_pdf_and_archive(desk, site, sent):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/no-media", desk)
    assert outcomes(job) == {
        "media": "unavailable",
        "facts": "ok",
        "screenshot": "ok",
        "pdf": "ok",
        "archive": "ok",
    }
    assert "no media on this page" in job.steps["media"]["reason"]


@pytest.mark.parametrize(
    ("path", "media_reason"),
    [
        ("/gone", "deleted or removed"),
        ("/missing", "deleted or removed"),
        ("/login", "login wall"),
        ("/busy", "rate-limited"),
    ],
)
def test_a_removed_or_walled_post_says_why_and_keeps_the_page_as_it_stands(desk, site, sent, path, media_reason):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}{path}", desk)
    assert job.steps["media"]["outcome"] == "failed"
    assert job.steps["media"]["reason"].startswith(media_reason)
    assert job.steps["screenshot"]["outcome"] == "ok"
    assert "the page answered HTTP" in job.steps["screenshot"]["reason"]
    assert job.steps["facts"]["outcome"] == "unavailable"


def test_a_telegram_page_whose_markup_changed_says_the_reader_needs_updating(desk, site, sent):
    site.telegram[f"/{CHANNEL}/{POST}"] = lambda: (
        "<html><head><title>Telegram</title></head><body><div class='tgme_page_v2'>A new layout</div></body></html>"
    )
    job = capture(make_case(by=desk, stage="triage"), telegram_url(), desk)
    assert job.steps["media"]["outcome"] == "failed"
    assert job.steps["media"]["reason"].startswith(
        "the reader for this site could not understand the page; the platform may have changed it"
    )
    assert not job.media_items.exists()
    assert job.steps["archive"]["outcome"] == "ok"  # the page as it now stands is still kept


def test_media_over_the_size_cap_is_not_stored_and_the_page_still_is(desk, site, sent, settings):
    settings.MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/big-post", desk)
    assert job.steps["media"]["outcome"] == "failed"
    assert "over the size cap" in job.steps["media"]["reason"]
    assert not MediaItem.objects.filter(kind="video").exists()
    assert job.steps["screenshot"]["outcome"] == "ok"


def test_a_page_that_never_finishes_fails_its_page_steps_and_stores_nothing_half(desk, site, sent, settings):
    settings.CAPTURE_PAGE_SECONDS = 3
    settings.URL_DOWNLOAD_TIMEOUT = 2
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/never", desk)
    assert set(outcomes(job).values()) == {"failed"}, job.steps
    assert job.status == "failed"
    assert job.steps["screenshot"]["reason"] in (
        "the site sent nothing of the page within 3 s",
        "the site did not answer (HTTP 504)",
    )
    assert not MediaItem.objects.exists()


def test_an_internal_address_is_refused_before_anything_is_fetched(desk, site, internal, sent):
    job = capture(make_case(by=desk, stage="triage"), f"{internal.url}/post", desk)
    assert set(outcomes(job).values()) == {"failed"}
    assert all(o["reason"].startswith("refused by the desk's rules") for o in job.steps.values())
    assert internal.seen == []
    assert not MediaItem.objects.exists()


def test_a_page_that_redirects_forever_is_refused_and_nothing_is_stored(desk, site, sent):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/loop", desk)
    assert job.status == "failed"
    refused = "refused by the desk's rules: The link redirected more than 5 times; the desk stops following there."
    assert job.steps == dict.fromkeys(jobs.STEPS, {"outcome": "failed", "reason": refused})
    assert not MediaItem.objects.exists()


def test_a_post_link_that_redirects_to_an_internal_address_is_refused_before_it_is_reached(desk, site, internal, sent):
    site.redirects["/moved"] = f"{internal.url}/post"
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/moved", desk)
    assert job.status == "failed"
    assert all(
        o["reason"].startswith(f"refused by the desk's rules: The link redirected to {internal.url}/post.")
        for o in job.steps.values()
    )
    assert internal.seen == []
    assert not MediaItem.objects.exists()


@pytest.mark.parametrize(("url", "why"), [("not a url", "is not a link"), ("ftp://example.org/x", "Only http")])
def test_it_refuses_what_is_not_a_post_link_without_queueing(desk, sent, url, why):
    with pytest.raises(IntakeError, match=why):
        jobs.queue_capture(case=make_case(by=desk, stage="triage"), url=url, by=desk)
    assert not CaptureJob.objects.exists()
    assert sent == []


def test_it_fills_only_what_the_desk_left_blank_and_keeps_the_rest_on_record(desk, site, sent):
    from verify import services

    case = make_case(by=desk, stage="triage")
    typed = services.add_sighting(case=case, by=desk, url=telegram_url(), account="Kursk W.", platform="telegram")
    job = capture(case, telegram_url(), desk, sighting=typed, trigger="sighting")
    typed.refresh_from_db()
    assert typed.account == "Kursk W."
    assert typed.caption == CAPTION
    assert typed.media_item is not None
    assert job.facts["kept_from_sighting"]["account"] == {"sighting": "Kursk W.", "post": "Kursk Watch (kursk_watch)"}
    changed = CaseEvent.objects.filter(case=case, kind="sighting_changed").get()
    assert set(changed.new) == {"caption", "posted_at", "media_item"}
    assert Sighting.objects.filter(case=case).count() == 3  # one per item of the album


def test_a_recapture_flags_a_post_deleted_since_and_keeps_both_versions(desk, site, sent):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram.clear()  # the channel deleted the post: t.me now answers 404
    second = capture(case, telegram_url(), desk, sighting=first.sighting, trigger="recapture")
    assert len(second.changes) == 1 and second.changes[0].startswith("deleted between ")
    assert "Since the last capture: deleted between" in second.progress
    assert first.media_items.count() == 3 and first.screenshot_id != second.screenshot_id
    event = CaseEvent.objects.filter(case=case, kind="post_capture").last()
    assert event.new["changes"] == second.changes


def test_a_recapture_flags_a_changed_caption(desk, site, sent):
    from tests.capture.conftest import telegram_post

    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram[f"/{CHANNEL}/2041"] = lambda: telegram_post(site, caption="Edited: training near Belgorod.")
    second = capture(case, telegram_url(), desk, sighting=first.sighting, trigger="recapture")
    assert second.changes == ["caption changed"]
    assert (first.facts["caption"], second.facts["caption"]) == (CAPTION, "Edited: training near Belgorod.")


def test_the_desk_cookie_file_reaches_the_capture_and_no_event(desk, site, sent, monkeypatch):
    PlatformCookies.objects.create(platform="telegram", cookies="# Netscape HTTP Cookie File\n")
    seen = []
    real = jobs._cookie_file
    monkeypatch.setattr(jobs, "_cookie_file", lambda url, folder: seen.append(real(url, folder)) or seen[-1])
    case = make_case(by=desk, stage="triage")
    capture(case, telegram_url(), desk)
    assert seen and seen[0].name == "cookies.txt"
    assert not any("Netscape" in str(e.new) + e.note for e in CaseEvent.objects.filter(case=case))


def test_the_command_shows_progress_and_a_summary_of_outcomes(desk, site, sent):
    case = make_case(by=desk, stage="triage")
    out = StringIO()
    call_command("capture", f"{site.url}/post", "not a url", "--case", str(case.pk), "--as", desk.username, stdout=out)
    text = out.getvalue()
    assert "[####################] " not in text
    assert f"[############--------] {site.url}/post: downloading the post's media" in text
    assert "opening the page in the browser" in text and "downloading the post's media" in text
    assert "not a url: refused:" in text
    assert "Summary:" in text
    assert "    media      ok" in text
    assert "1 of 1 capture(s) kept something" in text


def test_the_schedule_recaptures_captured_sightings_of_open_cases_only(desk, site, sent, settings):
    from datetime import timedelta

    from django.utils import timezone

    case = make_case(by=desk, stage="triage")
    first = capture(case, f"{site.url}/post", desk)
    assert jobs.recapture_watched() == 0  # captured just now
    assert jobs.recapture_watched(now=timezone.now() + timedelta(hours=settings.CAPTURE_WATCH_HOURS + 1)) == 1
    queued = CaptureJob.objects.exclude(pk=first.pk).get()
    assert (queued.trigger, queued.sighting, queued.requested_by) == ("schedule", first.sighting, None)


def test_a_page_with_500_images_is_kept_whole_with_no_media_to_take(desk, site, sent):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/many-images", desk)
    assert outcomes(job) == {
        "media": "unavailable",
        "facts": "unavailable",
        "screenshot": "ok",
        "pdf": "ok",
        "archive": "ok",
    }
    assert job.steps["facts"]["reason"] == "the page gives no details of the post"


def test_the_sweep_resends_a_stalled_capture_and_gives_up_on_one_hours_old(desk, sent):
    from datetime import timedelta

    from django.utils import timezone

    case = make_case(by=desk, stage="triage")
    lost = jobs.queue_capture(case=case, url="https://t.me/kursk_watch/1", by=desk)
    old = jobs.queue_capture(case=case, url="https://t.me/kursk_watch/2", by=desk)
    CaptureJob.objects.filter(pk=lost.pk).update(touched_at=timezone.now() - timedelta(minutes=10))
    CaptureJob.objects.filter(pk=old.pk).update(
        touched_at=timezone.now() - timedelta(hours=2), requested_at=timezone.now() - timedelta(hours=2)
    )
    sent.clear()
    assert jobs.requeue_stalled() == 1
    assert sent == [lost.pk]
    old.refresh_from_db()
    assert old.status == "failed"
    assert old.steps["media"]["reason"] == "no worker finished this capture in 120 minutes; capture again to retry"
