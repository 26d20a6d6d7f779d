"""The same guard everywhere: what a post page or its media points at inside the network gets nothing."""

import pytest

from tests.capture.conftest import plain_post
from tests.factories import make_case
from verify.capture import jobs
from verify.capture.browser import render_page
from verify.capture.media import fetch_media
from verify.capture.proxy import GuardingProxy

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture
def sneaky(site, internal):
    """A post page whose image, frame and script sit on an internal address, and whose video does too."""
    site.pages["/sneaky"] = lambda: plain_post(
        site,
        extra=f'<img src="{internal.url}/photo.jpg"><iframe src="{internal.url}/post"></iframe>'
        f'<script src="{internal.url}/x.js"></script>',
    )
    site.pages["/sneaky-video"] = lambda: plain_post(site, video="/clip.mp4").replace(
        f"{site.url}/clip.mp4", f"{internal.url}/clip.mp4"
    )
    return site


def test_chromium_loads_nothing_from_an_internal_address_a_page_points_at(sneaky, internal, tmp_path):
    with GuardingProxy() as proxy:
        page = render_page(f"{sneaky.url}/sneaky", proxy_url=proxy.url, folder=tmp_path, timeout=6, slots=1)
    assert page.screenshot is not None and page.status == 200
    assert internal.seen == []
    assert {r.destination for r in proxy.refusals} == {f"127.0.0.1:{internal.port}"}
    assert ("127.0.0.1", "/sneaky") in sneaky.seen  # the allowed site itself came through the proxy


def test_chromium_reaches_even_loopback_only_through_the_proxy(site, tmp_path, settings):
    settings.OUTBOUND_ALLOW = []  # the site is on loopback: reachable directly, but the proxy refuses it
    with GuardingProxy() as proxy:
        page = render_page(f"{site.url}/post", proxy_url=proxy.url, folder=tmp_path, timeout=6, slots=1)
    assert page.status == 403
    assert site.seen == []


def test_yt_dlp_downloads_nothing_from_an_internal_address_a_page_points_at(sneaky, internal, tmp_path):
    with GuardingProxy() as proxy:
        media = fetch_media(
            f"{sneaky.url}/sneaky-video", folder=tmp_path, proxy_url=proxy.url, max_bytes=10**8, timeout=5
        )
    assert media.files == []
    assert media.failed
    assert internal.seen == []
    assert {r.destination for r in proxy.refusals} == {f"127.0.0.1:{internal.port}"}


def test_a_capture_of_a_page_pointing_inside_keeps_the_page_and_records_no_internal_bytes(desk, sneaky, internal):
    case = make_case(by=desk, stage="triage")
    job = jobs.queue_capture(case=case, url=f"{sneaky.url}/sneaky", by=desk, send_now=False)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    assert job.steps["screenshot"]["outcome"] == "ok"
    assert job.steps["media"]["outcome"] == "ok"  # the page's own video, from the allowed site
    assert internal.seen == []


def test_browser_places_are_shared_host_wide_and_a_second_capture_waits_for_one(tmp_path):
    import threading
    import time

    from verify.capture.browser import browser_slot

    order = []

    def second():
        with browser_slot(1, tmp_path):
            order.append("second in")

    with browser_slot(1, tmp_path):
        order.append("first in")
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.5)
        order.append("first out")
    waiting.join(5)
    assert order == ["first in", "first out", "second in"]
