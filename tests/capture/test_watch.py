"""A watched post captured again: deleted or edited since raises a case flag, and every item's sighting follows."""

import hashlib

import pytest
from django.urls import reverse

from tests.capture.conftest import CAPTION, CHANNEL, POST, telegram_post, telegram_url
from tests.factories import make_case
from verify import services
from verify.capture import changes, jobs
from verify.models import CaptureJob, Flag, Sighting

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")
EDITED = "Edited: training near Belgorod."


@pytest.fixture(autouse=True)
def quick(settings, monkeypatch):
    settings.CAPTURE_PAGE_SECONDS = 6
    settings.URL_DOWNLOAD_TIMEOUT = 5
    monkeypatch.setattr(jobs, "send", lambda job_id: None)


def capture(case, url, by, **kwargs) -> CaptureJob:
    job = jobs.queue_capture(case=case, url=url, by=by, **kwargs)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    return job


def recapture(first: CaptureJob, by) -> CaptureJob:
    return capture(first.case, first.url, by, sighting=first.sighting, trigger="recapture")


def test_a_post_deleted_since_the_last_capture_raises_a_case_flag(desk, site):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram.clear()  # the channel deleted the post: t.me now answers 404
    second = recapture(first, desk)
    flag = Flag.objects.get(case=case, kind=changes.POST_DELETED)
    assert flag.media_item is None and flag.severity == "medium"
    assert flag.message.startswith(f"The post at {telegram_url()} was deleted between ")
    assert flag.message.endswith(f"captures #{first.pk} and #{second.pk} are both kept.")
    assert (flag.data["previous_capture"], flag.data["capture"]) == (first.pk, second.pk)
    assert first.media_items.count() == 3 and first.archive is not None  # the earlier version stays


def test_a_changed_caption_raises_a_flag_with_both_versions(desk, site):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram[f"/{CHANNEL}/{POST}"] = lambda: telegram_post(site, caption=EDITED)
    recapture(first, desk)
    flag = Flag.objects.get(case=case, kind=changes.POST_EDITED)
    assert (flag.data["changed"], flag.data["before"], flag.data["after"]) == ("caption", CAPTION, EDITED)
    assert "The post's caption changed between " in flag.message
    assert f"(was: “{CAPTION}”; now: “{EDITED}”)" in flag.message


def test_an_unchanged_post_raises_no_flag_and_a_deleted_one_is_flagged_once(desk, site):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    assert recapture(first, desk).changes == []
    site.telegram.clear()
    recapture(first, desk)
    recapture(first, desk)  # still gone: nothing new to flag
    assert list(Flag.objects.filter(case=case).values_list("kind", flat=True)) == [changes.POST_DELETED]


def test_the_flags_of_a_recapture_survive_a_recomputation_of_the_case_flags(desk, site):
    from verify import flags

    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram.clear()
    recapture(first, desk)
    flags.recompute_flags(case)
    assert Flag.objects.filter(case=case, kind=changes.POST_DELETED).count() == 1


def test_the_case_page_shows_the_flag_of_a_deleted_post(client, desk, site):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    site.telegram.clear()
    recapture(first, desk)
    client.force_login(desk)
    panel = client.get(reverse("admin:verify_case_media_panel", args=[case.pk])).content.decode()
    assert f"The post at {telegram_url()} was deleted between " in panel


def test_a_recaptured_album_links_an_item_added_since_to_a_sighting_of_its_own(desk, site, clips):
    case = make_case(by=desk, stage="triage")
    site.telegram[f"/{CHANNEL}/{POST}"] = lambda: telegram_post(site, ids=(2041, 2042))
    first = capture(case, telegram_url(), desk)
    assert Sighting.objects.filter(case=case).count() == 2
    site.telegram[f"/{CHANNEL}/{POST}"] = lambda: telegram_post(site, ids=(2041, 2042, 2043))
    second = recapture(first, desk)
    assert second.changes == ["media changed"]
    sightings = Sighting.objects.filter(case=case)
    assert {s.media_item.sha256 for s in sightings} == {hashlib.sha256(clip).hexdigest() for clip in clips}
    assert {(s.url, s.caption, s.account) for s in sightings} == {
        (telegram_url(), CAPTION, "Kursk Watch (kursk_watch)")
    }


def test_a_typed_sighting_of_an_album_gets_one_sighting_per_item(desk, site, clips):
    case = make_case(by=desk, stage="triage")
    typed = services.add_sighting(case=case, by=desk, url=telegram_url(), account="Kursk W.", platform="telegram")
    capture(case, telegram_url(), desk, sighting=typed, trigger="sighting")
    sightings = Sighting.objects.filter(case=case).order_by("pk")
    assert [s.media_item.sha256 for s in sightings] == [hashlib.sha256(clip).hexdigest() for clip in clips]
    assert sightings[0].account == "Kursk W."  # what the desk typed stays
    assert [s.caption for s in sightings] == [CAPTION] * 3


def test_a_recapture_fills_every_sighting_of_the_album(desk, site):
    case = make_case(by=desk, stage="triage")
    first = capture(case, telegram_url(), desk)
    for sighting in Sighting.objects.filter(case=case):
        services.update_sighting(sighting=sighting, by=desk, changes={"caption": "", "posted_at": None})
    recapture(first, desk)
    sightings = Sighting.objects.filter(case=case)
    assert sightings.count() == 3
    assert {(s.caption, s.posted_at.isoformat()) for s in sightings} == {(CAPTION, "2024-11-05T14:03:11+00:00")}
