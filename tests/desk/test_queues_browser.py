"""Desk → reviewer → editor in headless Chromium: each finds the case on their home page or in a notice,
makes their move, and the next person is told, by notice and by an e-mail whose link opens the desk."""

import re
import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.contrast import contrast_report
from tests.desk.test_workspace_browser import open_page, use_theme
from tests.factories import make_case, make_user
from verify import services
from verify.models import ChecklistItem
from verify.notices import mailing
from verify.notices.models import Notice
from verify.workflow import Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SHOWN_THEMES = ("light", "dark-system")


@pytest.fixture
def people(db):
    return {
        "desk": make_user("desk", username="dana", first_name="Dana", last_name="Lee"),
        "reviewer": make_user("reviewer", username="rafa", first_name="Rafael", last_name="Ortiz"),
        "editor": make_user("editor", username="eli", first_name="Eli", last_name="Novak"),
    }


@pytest.fixture
def tip(people):
    return make_case(
        by=people["desk"],
        stage="triage",
        title="Video said to show a strike on Kursk's power plant",
        claim="Shows a strike on the Kursk power plant last night.",
        deadline=datetime.now(UTC) + timedelta(hours=6),
    )


def sign_in_as(driver, base_url: str, username: str, theme: str = "light") -> None:
    driver.delete_all_cookies()
    log_in(driver, base_url, username)
    use_theme(driver, base_url, theme)
    open_page(driver, f"{base_url}{reverse('admin:index')}")


def follow(driver, element) -> None:
    """Click a link or submit button and wait until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, WAIT_SECONDS).until(EC.staleness_of(page))
    open_page(driver, driver.current_url)


def section(driver, key: str):
    return driver.find_element(By.ID, f"home-{key}")


def shoot(driver, directory, name: str) -> None:
    save_full_page(driver, directory / f"queues-{name}.png")


def mailed_link(to: str, subject_part: str) -> str:
    (message,) = [m for m in mail.outbox if m.to == [to] and subject_part in m.subject]
    return re.search(r"Open the case: (\S+)", message.body).group(1)


def unreadable(driver) -> list[str]:
    return [
        f"{f['text']!r} {f['color']} on {f['background']} = {f['ratio']}" for f in contrast_report(driver)["failures"]
    ]


def test_it_walks_a_case_from_the_desk_to_the_reviewer_to_the_editor(
    live_server, browser, screenshot_dir, settings, people, tip, mail_sent_here
):
    settings.SITE_URL = live_server.url
    base = live_server.url
    reviewer = people["reviewer"]

    # The desk: the tip waits in triage on the home page; its row opens the case, the desk assigns a lead.
    sign_in_as(browser, base, "dana")
    assert browser.find_elements(By.ID, "home-my-queue") == []
    shoot(browser, screenshot_dir, "1-desk-home")
    follow(browser, section(browser, "triage").find_element(By.LINK_TEXT, f"#{tip.pk} {tip.title}"))
    assert browser.current_url == f"{base}{tip.get_absolute_url()}"
    open_page(browser, f"{base}{reverse('admin:verify_case_assign', args=[tip.pk])}")
    Select(browser.find_element(By.NAME, "reviewer")).select_by_value(str(reviewer.pk))
    Select(browser.find_element(By.NAME, "role")).select_by_value("lead")
    shoot(browser, screenshot_dir, "2-desk-assigns")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Assign]"))
    assert tip.assignments.get().user == reviewer
    tip.refresh_from_db()
    services.transition_case(case=tip, to=Stage.IN_REVIEW, by=people["desk"])

    # The reviewer: one unread notice in the header, the case in their queue, an e-mail linking to it.
    sign_in_as(browser, base, "rafa")
    assert browser.find_element(By.CLASS_NAME, "vd-notices-link").text == "NOTICES (1 UNREAD)"
    assert f"#{tip.pk} {tip.title}" in section(browser, "my-queue").text
    shoot(browser, screenshot_dir, "3-reviewer-home")
    follow(browser, browser.find_element(By.CLASS_NAME, "vd-notices-link"))
    notice = browser.find_element(By.CSS_SELECTOR, ".vd-notice-unread")
    assert f"Dana Lee made you lead reviewer on case #{tip.pk}" in notice.text
    shoot(browser, screenshot_dir, "4-reviewer-notice")
    follow(browser, notice.find_element(By.TAG_NAME, "a"))
    assert browser.current_url == f"{base}{tip.get_absolute_url()}"
    assert Notice.objects.get(recipient=reviewer).read_at is not None
    browser.get(mailed_link(reviewer.email, "assigned to you"))
    assert browser.current_url == f"{base}{tip.get_absolute_url()}"

    for item in tip.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.CONFIRMED)
    open_page(browser, f"{base}{reverse('admin:verify_case_propose_verdict', args=[tip.pk])}")
    Select(browser.find_element(By.NAME, "rating")).select_by_value("misleading")
    Select(browser.find_element(By.NAME, "confidence")).select_by_value("high")
    browser.find_element(By.NAME, "summary").send_keys("2022 footage of a different plant, newly captioned.")
    browser.find_element(By.NAME, "rationale").send_keys("The same video was posted in August 2022.")
    shoot(browser, screenshot_dir, "5-reviewer-proposes")
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit][value='Propose this verdict']"))
    open_page(browser, browser.current_url)
    tip.refresh_from_db()
    assert tip.stage == Stage.AWAITING_APPROVAL

    # The editor: the verdict awaits their approval on the home page and in a notice; they approve it.
    sign_in_as(browser, base, "eli")
    assert browser.find_element(By.CLASS_NAME, "vd-notices-link").text == "NOTICES (1 UNREAD)"
    awaiting = section(browser, "awaiting-approval")
    assert "v1 Misleading / miscaptioned, by Rafael Ortiz" in awaiting.text
    shoot(browser, screenshot_dir, "6-editor-home")
    assert mailed_link(people["editor"].email, "awaits approval") == f"{base}{tip.get_absolute_url()}"
    follow(browser, awaiting.find_element(By.LINK_TEXT, "Review the verdict"))
    shoot(browser, screenshot_dir, "7-editor-reviews")
    follow(browser, browser.find_element(By.NAME, "approve"))
    tip.refresh_from_db()
    assert tip.stage == Stage.PUBLISHED
    open_page(browser, f"{base}{reverse('admin:index')}")
    assert "No verdict is waiting for you." in section(browser, "awaiting-approval").text

    # Back to the reviewer and the desk: both are told the case is published.
    for username in ("rafa", "dana"):
        sign_in_as(browser, base, username)
        open_page(browser, f"{base}{reverse('notices')}")
        assert (
            f"Eli Novak approved verdict v1 (Misleading / miscaptioned); case #{tip.pk}"
            in browser.find_element(By.CSS_SELECTOR, ".vd-notice-unread").text
        )
        shoot(browser, screenshot_dir, f"8-{username}-told-published")


def fits_without_sideways_scrolling(driver) -> bool:
    widths = driver.execute_script("var r = document.documentElement; return [r.scrollWidth, r.clientWidth]")
    return widths[0] <= widths[1]


@pytest.mark.parametrize("theme", SHOWN_THEMES)
def test_it_keeps_the_home_lists_and_notices_readable_at_1366_pixels(
    live_server, browser, screenshot_dir, people, tip, theme, mail_sent_here, monkeypatch
):
    def refuse(subject, body, sender, to):
        raise smtplib.SMTPRecipientsRefused({to[0]: (450, b"mailbox busy, try later")})

    # The notices page says when a notice's e-mail has not gone out.
    monkeypatch.setattr(mailing, "send_mail", refuse)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    services.assign_reviewer(case=tip, user=people["reviewer"], by=people["desk"])
    make_case(by=people["desk"], title="A new tip " + "with a long title " * 8)
    overdue = make_case(by=people["desk"], stage="triage", deadline=datetime.now(UTC) - timedelta(hours=3))
    services.assign_reviewer(case=overdue, user=people["reviewer"], by=people["desk"])
    problems = {}
    for username in ("dana", "rafa"):
        sign_in_as(browser, live_server.url, username, theme)
        assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == (
            "rgb(18, 18, 18)" if theme.startswith("dark") else "rgb(255, 255, 255)"
        )
        problems[username, "home"] = unreadable(browser)
        assert fits_without_sideways_scrolling(browser)
        shoot(browser, screenshot_dir, f"home-{username}-{theme}")
        open_page(browser, f"{live_server.url}{reverse('notices')}")
        problems[username, "notices"] = unreadable(browser)
        assert fits_without_sideways_scrolling(browser)
        shoot(browser, screenshot_dir, f"notices-{username}-{theme}")
    assert {page: failures for page, failures in problems.items() if failures} == {}
