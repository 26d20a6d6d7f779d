"""Link downloads as jobs: queued by the web request, run by the worker task to one outcome, shown on the case page."""

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_case
from tests.outbound.conftest import PHOTO
from verify import downloads, services
from verify.models import CaseEvent, LinkDownload, MediaItem
from workers import tasks

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture
def sent(monkeypatch):
    """The link downloads sent to the workers, recorded instead of sent."""
    ids = []
    monkeypatch.setattr(downloads, "send", ids.append)
    return ids


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


def give_link(client, case, url):
    return client.post(reverse("admin:verify_case_add_media", args=[case.pk]), {"url": url}, follow=True)


def panel(client, case) -> str:
    return client.get(reverse("admin:verify_case_media_panel", args=[case.pk])).content.decode()


def link_events(case):
    return list(
        CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.LINK_DOWNLOAD).values_list("new__status", flat=True)
    )


def files_under(root):
    return [p for p in root.rglob("*") if p.is_file()]


def test_it_queues_a_link_without_fetching_it_in_the_web_request(
    desk_client, desk, web_server, settings, sent, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    with django_capture_on_commit_callbacks(execute=True):
        response = give_link(desk_client, case, f"{web_server.url}/trickle.jpg")
    download = LinkDownload.objects.get()
    assert (download.case, download.requested_by, download.status) == (case, desk, "queued")
    assert sent == [download.pk]
    assert web_server.seen == []
    assert "is queued for download" in response.content.decode()
    assert link_events(case) == ["queued"]
    assert "Waiting for a worker" in panel(desk_client, case)


def test_it_downloads_a_queued_link_on_the_worker_and_shows_the_outcome(
    desk_client, desk, web_server, settings, sent, media_root
):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    assert tasks.run_link_download(download.pk) == "ok"
    download.refresh_from_db()
    item = MediaItem.objects.get()
    assert item.sha256 == hashlib.sha256(PHOTO).hexdigest()
    assert (download.status, download.media_item, download.attempts) == ("ok", item, 1)
    assert (download.bytes_received, download.bytes_expected) == (len(PHOTO), len(PHOTO))
    assert download.reason.startswith("photo.jpg, ") and download.reason.endswith(": stored")
    assert download.started_at and download.finished_at
    assert link_events(case) == ["queued", "running", "ok"]
    custody = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.MEDIA_COLLECTED)
    assert custody.actor == desk and custody.new["origin"].startswith(f"downloaded from {web_server.url}/photo.jpg")
    shown = panel(desk_client, case)
    assert "Downloaded" in shown and download.reason in shown
    assert f'href="#media-{item.sha256[:12]}"' in shown


def test_it_records_a_refused_link_and_stores_nothing(desk_client, desk, web_server, sent, media_root):
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    assert tasks.run_link_download(download.pk) == "refused"
    download.refresh_from_db()
    assert download.reason == (
        "That link points at an address on the desk's own machine (127.0.0.1), which the desk does not fetch."
    )
    assert web_server.seen == []
    assert not MediaItem.objects.exists() and not files_under(media_root)
    assert link_events(case) == ["queued", "running", "refused"]
    shown = panel(desk_client, case)
    assert "Refused" in shown and "the desk&#x27;s own machine (127.0.0.1)" in shown


def test_it_refuses_a_file_over_the_size_cap_and_stores_nothing(desk, web_server, settings, sent, media_root):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    settings.MAX_UPLOAD_BYTES = 1000
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/no-length.bin", by=desk)
    assert tasks.run_link_download(download.pk) == "refused"
    download.refresh_from_db()
    assert "ran past the 1,000 bytes limit for one file" in download.reason
    assert not MediaItem.objects.exists() and not files_under(media_root)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.jpg", "The server refused the download: HTTP 404 Not Found"),
        ("/trickle.jpg", "took longer than 1 s in all and was stopped"),
    ],
)
def test_it_records_a_failed_download_and_stores_nothing(
    desk_client, desk, web_server, settings, sent, media_root, path, reason
):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    settings.URL_DOWNLOAD_DEADLINE = 1
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=web_server.url + path, by=desk)
    assert tasks.run_link_download(download.pk) == "failed"
    download.refresh_from_db()
    assert reason in download.reason
    assert not MediaItem.objects.exists() and not files_under(media_root)
    assert "Failed" in panel(desk_client, case)


def test_it_refuses_a_link_whose_case_was_closed_while_it_waited(desk, web_server, settings, sent, media_root):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    services.transition_case(case=case, to="dismissed", by=desk, note="not a real claim")
    assert tasks.run_link_download(download.pk) == "refused"
    download.refresh_from_db()
    assert download.reason.endswith("is Dismissed; reopen it before adding files")
    assert not MediaItem.objects.exists() and not files_under(media_root)


def test_it_shows_progress_while_a_download_runs(desk_client, desk, sent):
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url="https://example.org/clip.mp4", by=desk)
    LinkDownload.objects.filter(pk=download.pk).update(
        status="running", attempts=1, bytes_received=3_150_000, bytes_expected=12_000_000
    )
    shown = panel(desk_client, case)
    assert "Downloading… 3.1 MB of 12 MB" in shown  # the desk's one size style (verify.desk.formats)
    assert 'value="3150000" max="12000000"' in shown
    assert 'data-pending="1"' in shown


def test_it_runs_a_redelivered_download_to_one_outcome(desk, web_server, settings, sent):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    assert tasks.run_link_download(download.pk) == "ok"
    assert tasks.run_link_download(download.pk) is None
    assert link_events(case) == ["queued", "running", "ok"]
    assert len(web_server.seen) == 1


def test_it_leaves_a_download_a_live_worker_holds_alone(desk, web_server, settings, sent):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    LinkDownload.objects.filter(pk=download.pk).update(status="running", attempts=1, touched_at=timezone.now())
    assert tasks.run_link_download(download.pk) is None
    assert web_server.seen == []
    assert LinkDownload.objects.get().status == "running"


def test_it_takes_over_a_download_whose_worker_stopped(desk, web_server, settings, sent):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    LinkDownload.objects.filter(pk=download.pk).update(
        status="running", attempts=1, touched_at=timezone.now() - timedelta(minutes=5)
    )
    assert tasks.run_link_download(download.pk) == "ok"
    assert LinkDownload.objects.get().attempts == 2


def test_it_stops_a_delivery_whose_download_was_taken_over_and_keeps_nothing(
    desk, web_server, settings, sent, media_root, monkeypatch
):
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{web_server.port}"]
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url=f"{web_server.url}/photo.jpg", by=desk)
    report = downloads._Progress.__call__

    def taken_over(progress, received, expected):
        # Another delivery claims the download while this one is receiving bytes.
        LinkDownload.objects.filter(pk=download.pk).update(attempts=2)
        report(progress, received, expected)

    monkeypatch.setattr(downloads._Progress, "__call__", taken_over)
    assert tasks.run_link_download(download.pk) is None
    assert not MediaItem.objects.exists() and not files_under(media_root)
    assert link_events(case) == ["queued", "running"]


def test_the_sweep_resends_downloads_whose_message_or_worker_was_lost(desk, sent):
    case = make_case(by=desk, stage="triage")
    long_ago = timezone.now() - timedelta(minutes=2)
    lost_message = downloads.queue_link_download(case=case, url="https://example.org/a.jpg", by=desk)
    dead_worker = downloads.queue_link_download(case=case, url="https://example.org/b.jpg", by=desk)
    fresh = downloads.queue_link_download(case=case, url="https://example.org/c.jpg", by=desk)
    LinkDownload.objects.filter(pk=lost_message.pk).update(touched_at=long_ago)
    LinkDownload.objects.filter(pk=dead_worker.pk).update(status="running", attempts=1, touched_at=long_ago)
    sent.clear()
    tasks.requeue_stalled_extractions()
    assert sorted(sent) == sorted([lost_message.pk, dead_worker.pk])
    assert LinkDownload.objects.get(pk=fresh.pk).status == "queued"


def test_the_sweep_gives_up_on_a_download_whose_worker_kept_stopping(desk, sent):
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url="https://example.org/a.jpg", by=desk)
    LinkDownload.objects.filter(pk=download.pk).update(
        status="running", attempts=downloads.MAX_ATTEMPTS, touched_at=timezone.now() - timedelta(minutes=2)
    )
    sent.clear()
    tasks.requeue_stalled_extractions()
    download.refresh_from_db()
    assert sent == []
    assert (download.status, download.reason) == (
        "failed",
        "The worker stopped 3 times during this download; it was not tried again.",
    )
    assert link_events(case) == ["queued", "failed"]


def test_the_sweep_gives_up_on_a_download_no_worker_took_for_hours(desk, sent):
    case = make_case(by=desk, stage="triage")
    download = downloads.queue_link_download(case=case, url="https://example.org/a.jpg", by=desk)
    hours_ago = timezone.now() - timedelta(hours=3)
    LinkDownload.objects.filter(pk=download.pk).update(requested_at=hours_ago, touched_at=hours_ago)
    downloads.requeue_stalled()
    download.refresh_from_db()
    assert download.status == "failed"
    assert download.reason.startswith("No worker finished this download in 180 minutes; the desk gave up.")


def test_it_refuses_a_link_for_a_closed_case_on_the_spot(desk_client, desk, sent):
    case = make_case(by=desk, stage="dismissed")
    response = give_link(desk_client, case, "https://example.org/a.jpg")
    assert "is Dismissed; reopen it before adding files" in response.content.decode()
    assert not LinkDownload.objects.exists()
