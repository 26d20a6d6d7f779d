"""The case page as a workspace in headless Chromium: header and moves, gallery, details on demand, graphic media
blurred until clicked, and the work panel, in the light and dark themes at 1366 px with a 300-character file name."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.contrast import contrast_report
from tests.desk.test_workspace_browser import LONG_NAME, open_page, read_everything, use_theme
from tests.factories import make_case, make_user
from verify import intake, services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def people(db):
    desk = make_user("desk", username="dana", first_name="Dana", last_name="Lee")
    reviewer = make_user("reviewer", username="rafa", first_name="Rafael", last_name="Ortiz")
    return desk, reviewer


@pytest.fixture
def graphic_case(people, corpus, settings, tmp_path, tasks_not_sent):
    """A graphic case with one read photo under a 300-character name, led by Rafael."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAP_TILE_URL = ""
    desk, reviewer = people
    case = make_case(
        by=desk,
        stage="triage",
        title="Aftermath of the strike on the market",
        claim="Shows the market after the strike.",
        claimed_place="Kursk",
        claimed_latitude=51.7304,
        claimed_longitude=36.1926,
        claimed_at=datetime(2024, 10, 18, 9, 0, tzinfo=UTC),
        deadline=datetime.now(UTC) + timedelta(hours=5),
        is_graphic=True,
    )
    with (corpus / "photos/DSCN0010.jpg").open("rb") as source:
        intake.ingest_stream(case=case, source=source, original_name=LONG_NAME, by=desk, origin="tip")
    read_everything()
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    return case


def at_1366(driver) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )


def sideways_scroll(driver) -> int:
    return driver.execute_script("var root = document.documentElement; return root.scrollWidth - root.clientWidth")


def unreadable(report: dict) -> list[str]:
    return [
        f"{f['text']!r} {f['color']} on {f['background']} = {f['ratio']} < {f['needed']}" for f in report["failures"]
    ]


def open_first_card(driver):
    card = driver.find_element(By.CSS_SELECTOR, "#vd-media .vd-card")
    card.find_element(By.CSS_SELECTOR, ".vd-card-name").click()
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: card.find_elements(By.CSS_SELECTOR, ".vd-card-body .vd-item .vd-summary")
    )
    return card


@pytest.mark.parametrize("theme", ["light", "dark-system"])
def test_it_shows_the_workspace_readable_at_1366_pixels_and_opens_a_file_on_demand(
    live_server, browser, screenshot_dir, graphic_case, theme
):
    at_1366(browser)
    log_in(browser, live_server.url, "dana")
    use_theme(browser, live_server.url, theme)
    open_page(browser, live_server.url + reverse("admin:verify_case_change", args=[graphic_case.pk]))

    header = browser.find_element(By.CSS_SELECTOR, ".vd-ws-header").text
    assert f"#{graphic_case.pk} Aftermath of the strike on the market" in header
    # Read in full, the case went on to review by itself.
    assert "In review" in header and "Rafael Ortiz (lead reviewer)" in header and "Graphic" in header
    moves = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".vd-moves .vd-move-button")]
    assert moves == ["Assign a reviewer", "Move to Collecting", "Put on hold", "Mark as duplicate", "Dismiss"]
    assert "Propose a verdict" not in moves  # a desk member does not propose verdicts
    assert browser.find_element(By.CSS_SELECTOR, ".vd-flag-summary").text.startswith("Flags")
    # The file's details are not on the page until it is opened.
    assert browser.find_elements(By.CSS_SELECTOR, "#vd-media .vd-item") == []
    assert sideways_scroll(browser) == 0
    assert unreadable(contrast_report(browser)) == []
    save_full_page(browser, screenshot_dir / f"case-workspace-{theme}.png")

    card = open_first_card(browser)
    details = card.find_element(By.CSS_SELECTOR, ".vd-card-body").text
    assert "Raw readings" in details and "Content Credentials" in details and "43.467448, 11.885127" in details
    assert sideways_scroll(browser) == 0
    assert unreadable(contrast_report(browser)) == []
    save_full_page(browser, screenshot_dir / f"case-workspace-{theme}-file-open.png")


def test_it_blurs_graphic_media_until_it_is_clicked(live_server, browser, screenshot_dir, graphic_case):
    at_1366(browser)
    log_in(browser, live_server.url, "dana")
    open_page(browser, live_server.url + reverse("admin:verify_case_change", args=[graphic_case.pk]))
    thumbnail = browser.find_element(By.CSS_SELECTOR, "#vd-media .vd-card .vd-thumbs img")
    assert "blur" in thumbnail.value_of_css_property("filter")
    assert "grayscale" in thumbnail.value_of_css_property("filter")

    thumbnail.click()

    assert thumbnail.value_of_css_property("filter") == "none"
    # The click shows the picture and nothing else: the card stays closed.
    assert browser.find_element(By.CSS_SELECTOR, "#vd-media .vd-card details").get_attribute("open") is None
    card = open_first_card(browser)
    preview = card.find_element(By.CSS_SELECTOR, ".vd-card-body .vd-previews img")
    assert "blur" in preview.value_of_css_property("filter")  # each picture is shown by its own click
    save_full_page(browser, screenshot_dir / "case-workspace-graphic.png")


def test_it_assigns_a_reviewer_from_the_header_with_the_inputs_the_move_needs(
    live_server, browser, graphic_case, people
):
    desk, _ = people
    second = make_user("reviewer", username="sam", first_name="Sam", last_name="Okafor")
    log_in(browser, live_server.url, "dana")
    open_page(browser, live_server.url + reverse("admin:verify_case_change", args=[graphic_case.pk]))
    move = browser.find_element(By.CSS_SELECTOR, ".vd-move-assign")
    move.find_element(By.TAG_NAME, "summary").click()
    Select(move.find_element(By.NAME, "reviewer")).select_by_visible_text("Sam Okafor")
    Select(move.find_element(By.NAME, "role")).select_by_value("second")
    move.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    WebDriverWait(browser, WAIT_SECONDS).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messagelist"), "Sam")
    )
    assert "Sam Okafor (second reviewer)" in browser.find_element(By.CSS_SELECTOR, ".vd-ws-header").text
    assert graphic_case.assignments.filter(user=second, role="second", assigned_by=desk).exists()


def test_it_opens_the_checklist_form_in_the_work_panel_beside_the_evidence(live_server, browser, graphic_case):
    at_1366(browser)
    log_in(browser, live_server.url, "rafa")
    open_page(browser, live_server.url + reverse("admin:verify_case_change", args=[graphic_case.pk]))
    panel = browser.find_element(By.ID, "vd-work-panel")
    media = browser.find_element(By.ID, "vd-media")
    assert panel.rect["x"] > media.rect["x"] + media.rect["width"] - 1  # beside the media, not under it

    panel.find_element(By.LINK_TEXT, "Answer the checklist").click()

    form = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#vd-work-panel .vd-panel-form form")
    )
    assert form.get_attribute("action").endswith(reverse("admin:verify_case_checklist", args=[graphic_case.pk]))
    assert form.find_elements(By.CSS_SELECTOR, "select[name$='-status']")
    assert sideways_scroll(browser) == 0


@pytest.mark.parametrize("theme", ["light", "dark-system"])
def test_it_draws_a_big_cases_timeline_and_map_when_asked_for(
    live_server, browser, screenshot_dir, graphic_case, settings, theme
):
    settings.CASE_STORY_INLINE_FILES = 0  # the one file is already more than the page draws by itself
    at_1366(browser)
    log_in(browser, live_server.url, "dana")
    use_theme(browser, live_server.url, theme)
    open_page(browser, live_server.url + reverse("admin:verify_case_change", args=[graphic_case.pk]))
    assert browser.find_elements(By.CSS_SELECTOR, ".vd-timeline") == []
    assert unreadable(contrast_report(browser)) == []
    save_full_page(browser, screenshot_dir / f"case-workspace-story-asked-{theme}.png")

    browser.find_element(By.CSS_SELECTOR, ".vd-story-load").click()

    timeline = WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_element(By.CSS_SELECTOR, ".vd-timeline"))
    assert "Captured" in timeline.text
    assert "43.467448, 11.885127" in browser.find_element(By.CSS_SELECTOR, ".vd-story-points").text
    assert sideways_scroll(browser) == 0
    assert unreadable(contrast_report(browser)) == []
    save_full_page(browser, screenshot_dir / f"case-workspace-story-shown-{theme}.png")
