"""A desk's cookie file for a platform opens the post in Chromium as the logged-in account sees it."""

import email

import pytest

from tests.capture.conftest import MEMBER_CAPTION, MEMBER_COOKIE, MEMBER_SESSION
from tests.factories import make_case
from verify.capture import jobs
from verify.capture.browser import browser_cookies
from verify.intake import original_path
from verify.models import CaseEvent, PlatformCookies

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")

COOKIE_FILE = f"""# Netscape HTTP Cookie File
# This is a generated file! Do not edit.

127.0.0.1\tFALSE\t/\tFALSE\t0\t{MEMBER_COOKIE}\t{MEMBER_SESSION}
"""


@pytest.fixture(autouse=True)
def quick(settings, monkeypatch):
    settings.CAPTURE_PAGE_SECONDS = 6
    settings.URL_DOWNLOAD_TIMEOUT = 5
    monkeypatch.setattr(jobs, "send", lambda job_id: None)


def capture(case, url, by):
    job = jobs.queue_capture(case=case, url=url, by=by)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    return job


def archived_page(job) -> str:
    """The HTML of the page as the MHTML archive kept it (quoted-printable in the file)."""
    archive = email.message_from_bytes(original_path(job.archive.sha256).read_bytes())
    html = next(part for part in archive.walk() if part.get_content_type() == "text/html")
    return html.get_payload(decode=True).decode("utf-8")


def test_without_the_cookie_file_chromium_keeps_the_login_wall(desk, site):
    job = capture(make_case(by=desk, stage="triage"), f"{site.url}/members", desk)
    assert job.steps["screenshot"]["outcome"] == "ok"
    page = archived_page(job)
    assert "Log in to see this post" in page
    assert MEMBER_CAPTION not in page


def test_with_the_platform_cookie_file_chromium_captures_the_post_behind_the_login(desk, site):
    PlatformCookies.objects.create(platform="other", cookies=COOKIE_FILE)
    case = make_case(by=desk, stage="triage")
    job = capture(case, f"{site.url}/members", desk)
    assert {step: job.steps[step]["outcome"] for step in ("screenshot", "pdf", "archive")} == dict.fromkeys(
        ("screenshot", "pdf", "archive"), "ok"
    )
    page = archived_page(job)
    assert MEMBER_CAPTION in page
    assert "Log in to see this post" not in page
    assert job.facts["caption"] == MEMBER_CAPTION
    assert "opened with the platform's cookie file (1 cookie(s))" in job.steps["screenshot"]["reason"]
    recorded = "".join(str(event.new) + event.note for event in CaseEvent.objects.filter(case=case))
    assert MEMBER_SESSION not in recorded + str(job.steps) + str(job.facts)


def test_it_reads_a_netscape_cookie_file_for_the_browser(tmp_path):
    path = tmp_path / "cookies.txt"
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        ".t.me\tTRUE\t/\tTRUE\t1893456000\tstel_ssid\tabc\n"
        "#HttpOnly_x.com\tFALSE\t/i/\tTRUE\t0\tauth_token\tdef\n"
        "not a cookie line\n"
    )
    assert browser_cookies(path) == [
        {
            "name": "stel_ssid",
            "value": "abc",
            "path": "/",
            "httpOnly": False,
            "secure": True,
            "domain": ".t.me",
            "expires": 1893456000,
        },
        {
            "name": "auth_token",
            "value": "def",
            "path": "/i/",
            "httpOnly": True,
            "secure": True,
            "url": "https://x.com/i/",
        },
    ]
