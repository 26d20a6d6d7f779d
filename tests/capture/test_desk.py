"""The desk's ways into a capture: Add media, the sighting form, Capture again, and the cookie file."""

import pytest
from django.urls import reverse

from tests.factories import make_case, make_user
from tests.test_admin import inline_management
from verify.capture import jobs
from verify.models import CaptureJob, PlatformCookies

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(jobs, "send", ids.append)
    return ids


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


def test_a_post_given_on_add_media_is_queued_for_capture(desk_client, desk, sent, django_capture_on_commit_callbacks):
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True):
        response = desk_client.post(
            reverse("admin:verify_case_add_media", args=[case.pk]), {"post_url": "https://t.me/kursk_watch/2041"}
        )
    assert response.status_code == 302
    job = CaptureJob.objects.get()
    assert (job.case, job.url, job.trigger, job.requested_by) == (case, "https://t.me/kursk_watch/2041", "desk", desk)
    assert sent == [job.pk]
    panel = desk_client.get(reverse("admin:verify_case_media_panel", args=[case.pk])).content.decode()
    assert "Waiting for a worker" in panel


def test_a_sighting_saved_with_capture_ticked_is_queued_with_that_sighting(desk_client, desk, sent):
    case = make_case(by=desk, stage="triage")
    data = {
        "title": case.title,
        "claim": case.claim,
        "priority": case.priority,
        **inline_management(sightings=1),
        "sightings-0-role": "appearance",
        "sightings-0-platform": "telegram",
        "sightings-0-url": "https://t.me/kursk_watch/2041",
        "sightings-0-capture_post": "on",
    }
    response = desk_client.post(reverse("admin:verify_case_change", args=[case.pk]), data)
    assert response.status_code == 302
    job = CaptureJob.objects.get()
    assert (job.trigger, job.sighting.url) == ("sighting", "https://t.me/kursk_watch/2041")


def test_capture_again_queues_a_recapture_of_the_same_sighting(desk_client, desk, site, sent):
    case = make_case(by=desk, stage="triage")
    first = jobs.queue_capture(case=case, url=f"{site.url}/post", by=desk, send_now=False)
    jobs.run_capture(first.pk)
    first.refresh_from_db()
    panel = desk_client.get(reverse("admin:verify_case_media_panel", args=[case.pk])).content.decode()
    assert first.screenshot.sha256 in panel and first.archive.sha256 in panel
    assert "Capture again" in panel
    desk_client.post(reverse("admin:verify_case_recapture", args=[case.pk, first.pk]))
    again = CaptureJob.objects.exclude(pk=first.pk).get()
    assert (again.trigger, again.sighting, again.url) == ("recapture", first.sighting, first.url)


def test_the_cookie_file_is_never_shown_back_in_the_admin(client, db):
    admin_user = make_user(username="root", is_superuser=True)
    client.force_login(admin_user)
    secret = "# Netscape HTTP Cookie File\n.t.me\tTRUE\t/\tTRUE\t0\tstel_token\tsecret-value-123\n"
    client.post(reverse("admin:verify_platformcookies_add"), {"platform": "telegram", "cookies": secret})
    saved = PlatformCookies.objects.get()
    assert saved.cookies == secret and saved.updated_by == admin_user
    page = client.get(reverse("admin:verify_platformcookies_change", args=[saved.pk])).content.decode()
    assert "secret-value-123" not in page
