"""The desk search, a file's page and the send-back notice in headless Chromium, readable in both themes."""

import hashlib

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.contrast import contrast_report
from tests.factories import make_case, make_user
from verify import services
from verify.models import CaseMedia, ChecklistItem, MediaItem
from verify.workflow import Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OUR_TEXT = "#vd-desk-search-results, .vd-desk-search, #vd-file-cases, #vd-file-sightings, #vd-sent-back"
THEMES = {"light": ("light", "auto"), "dark": ("dark", "auto")}


@pytest.fixture
def sent_back_case():
    desk, reviewer = make_user("desk", username="dana"), make_user("reviewer", username="rafa")
    editor = make_user("editor", username="eli", first_name="Eli", last_name="Cohen")
    case = make_case(by=desk, stage="triage", title="Bridge at Sudzha", claim="The bridge was blown up on Monday")
    content = b"bridge photo bytes"
    item = MediaItem.objects.create(
        sha256=hashlib.sha256(content).hexdigest(),
        kind=MediaItem.Kind.PHOTO,
        size=len(content),
        original_name="bridge_sudzha.jpg",
        file="media/bridge",
    )
    CaseMedia.objects.create(case=case, media_item=item)
    services.add_sighting(
        case=case,
        by=desk,
        platform="telegram",
        account="kursk_frontline",
        url="https://t.me/kursk_frontline/4411",
        caption="The bridge, this morning",
        media_item=item,
    )
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    for question in case.checklist.all():
        services.answer_checklist_item(item=question, by=reviewer, status=ChecklistItem.Status.CONFIRMED)
    services.propose_verdict(
        case=case, by=reviewer, rating="misleading", confidence="medium", summary="Old photo", rationale="From 2022"
    )
    services.send_back_verdict(case=case, by=editor, reason="Name the first upload and link it.")
    return case, item


def use_theme(driver, base_url: str, theme: str) -> None:
    scheme, stored = THEMES[theme]
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    driver.get(f"{base_url}/admin/")
    driver.execute_script("localStorage.setItem('theme', arguments[0])", stored)


def unreadable(driver) -> list[str]:
    report = contrast_report(driver, OUR_TEXT)
    assert report["checked"] > 0
    return [f"{f['text']!r}: {f['color']} on {f['background']} = {f['ratio']}" for f in report["failures"]]


def test_it_finds_a_link_opens_the_file_and_reads_in_both_themes(live_server, browser, screenshot_dir, sent_back_case):
    case, item = sent_back_case
    log_in(browser, live_server.url, "dana")
    problems = {}
    for theme in THEMES:
        use_theme(browser, live_server.url, theme)
        browser.get(live_server.url + reverse("admin:verify_case_search"))
        box = browser.find_element(By.ID, "vd-desk-search-q")
        box.send_keys("HTTPS://T.me/kursk_frontline/4411/?utm_source=share")
        box.submit()
        results = WebDriverWait(browser, WAIT_SECONDS).until(
            EC.presence_of_element_located((By.ID, "vd-desk-search-results"))
        )
        assert "Bridge at Sudzha" in results.text and "kursk_frontline" in results.text
        problems[theme, "search"] = unreadable(browser)
        save_full_page(browser, screenshot_dir / f"desk-search-{theme}.png")
        browser.get(live_server.url + reverse("admin:verify_case_search") + f"?q={item.sha256[:8]}")
        browser.find_element(By.LINK_TEXT, "bridge_sudzha.jpg").click()
        cases = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-file-cases")))
        assert "#" + str(case.pk) in cases.text and "In review" in cases.text
        problems[theme, "file"] = unreadable(browser)
        save_full_page(browser, screenshot_dir / f"file-page-{theme}.png")
    assert {page: found for page, found in problems.items() if found} == {}


def test_it_shows_the_reviewer_the_send_back_reason_readably_in_both_themes(
    live_server, browser, screenshot_dir, sent_back_case
):
    case, _ = sent_back_case
    log_in(browser, live_server.url, "rafa")
    problems = {}
    for theme in THEMES:
        use_theme(browser, live_server.url, theme)
        browser.get(live_server.url + reverse("admin:verify_case_propose_verdict", args=[case.pk]))
        notice = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-sent-back")))
        assert "Name the first upload and link it." in notice.text and "Eli Cohen" in notice.text
        assert notice.location["y"] < browser.find_element(By.NAME, "rating").location["y"]
        problems[theme] = unreadable(browser)
        save_full_page(browser, screenshot_dir / f"re-proposal-{theme}.png")
    assert {theme: found for theme, found in problems.items() if found} == {}
