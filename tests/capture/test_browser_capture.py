"""A case after a capture, in a real browser: the sighting filled, the screenshot and archive listed with hashes."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.capture.conftest import telegram_url
from tests.factories import make_case, make_user
from verify.capture import jobs
from verify.intake import original_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("media_root", "tasks_not_sent"),
]


def test_the_case_page_shows_a_telegram_capture_with_its_sighting_and_hashes(
    live_server, browser, site, screenshot_dir, monkeypatch
):
    monkeypatch.setattr(jobs, "send", lambda job_id: None)
    desk = make_user("desk", username="dana")
    case = make_case(by=desk, stage="triage", title="Soldiers learning Russian words in Kursk")
    job = jobs.queue_capture(case=case, url=telegram_url(), by=desk)
    jobs.run_capture(job.pk)
    job.refresh_from_db()
    assert job.status == "done"

    log_in(browser, live_server.url, "dana")
    browser.get(f"{live_server.url}/admin/verify/case/{case.pk}/change/")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, f"capture-{job.pk}")))
    row = browser.find_element(By.ID, f"capture-{job.pk}").text
    assert "Captured" in row
    for step in ("media: ok", "facts: ok", "screenshot: ok", "pdf: ok", "archive: ok"):
        assert step in row
    assert job.screenshot.sha256 in row and job.archive.sha256 in row and job.pdf.sha256 in row
    sightings = browser.find_element(By.ID, "sightings-group")
    accounts = [e.get_attribute("value") for e in sightings.find_elements(By.CSS_SELECTOR, "input[name$='-account']")]
    assert accounts.count("Kursk Watch (kursk_watch)") == 3
    page_shot = save_full_page(browser, screenshot_dir / "case-after-capture.png")
    (screenshot_dir / "captured-post.png").write_bytes(original_path(job.screenshot.sha256).read_bytes())
    assert page_shot.stat().st_size > 10_000
