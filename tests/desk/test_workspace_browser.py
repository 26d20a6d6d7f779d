"""The desk in headless Chromium: readable in the light and dark themes, no sideways scroll at 1366 px,
no request to a map server unless one is configured, and "pending" turning into readings without a reload."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.contrast import contrast_report
from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from verify import intake, pipeline, services
from verify.models import Extraction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

KURSK = (51.7304, 36.1926)
LONG_NAME = "kursk-" + "very-long-file-name-" * 14 + "x" * 10 + ".jpg"
# Light; dark chosen with the admin's theme toggle; dark from the system's setting under the "auto" theme.
THEMES = {
    "light": ("light", "auto"),
    "dark-toggle": ("light", "dark"),
    "dark-system": ("dark", "auto"),
}
DARK_BODY = "rgb(18, 18, 18)"


def read_everything() -> None:
    for extraction in Extraction.objects.filter(status=Extraction.Status.PENDING).order_by("pk"):
        pipeline.run_extraction(extraction.pk)


@pytest.fixture
def people(db):
    desk = make_user("desk", username="dana", first_name="Dana", last_name="Lee")
    reviewer = make_user("reviewer", username="rafa", first_name="Rafael", last_name="Ortiz")
    return desk, reviewer


@pytest.fixture
def busy_case(people, corpus, settings, tmp_path, tasks_not_sent):
    """A case with a read photo (flags, GPS far from the claim, a 300-character name) and a photo still being read."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAP_TILE_URL = ""
    desk, reviewer = people
    case = make_case(
        by=desk,
        stage="triage",
        title="Strike said to show Kursk " + "with a long title " * 4,
        claim="Shows a strike in Kursk last night.",
        claimed_place="Kursk",
        claimed_latitude=KURSK[0],
        claimed_longitude=KURSK[1],
        claimed_at=datetime(2024, 10, 18, 9, 0, tzinfo=UTC),
        deadline=datetime.now(UTC) - timedelta(hours=3),
    )
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.add_sighting(
        case=case, by=desk, platform="telegram", account="@first_channel", url="https://t.me/c/1",
        posted_at=datetime(2024, 10, 17, 15, 0, tzinfo=UTC), caption="Kursk tonight",
    )  # fmt: skip
    assert len(LONG_NAME) == 300
    with (corpus / "photos/DSCN0010.jpg").open("rb") as source:
        intake.ingest_stream(case=case, source=source, original_name=LONG_NAME, by=desk, origin="tip")
    read_everything()
    case.refresh_from_db()
    intake.ingest_stream(
        case=case, source=io.BytesIO(jpeg_bytes(size=(320, 240))), original_name="later.jpg", by=desk, origin="tip"
    )
    return case


def use_theme(driver, base_url: str, theme: str) -> None:
    scheme, stored = THEMES[theme]
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    driver.get(f"{base_url}/admin/")
    driver.execute_script("localStorage.setItem('theme', arguments[0])", stored)


def open_page(driver, url: str) -> None:
    driver.get(url)
    WebDriverWait(driver, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "content-main")))


def desk_pages(case) -> dict[str, str]:
    return {
        "case": reverse("admin:verify_case_change", args=[case.pk]),
        "list": reverse("admin:verify_case_changelist"),
        "queue": reverse("admin:verify_case_my_queue"),
        "workload": reverse("admin:verify_case_workload"),
        "assign": reverse("admin:verify_case_assign", args=[case.pk]),
        "checklist": reverse("admin:verify_case_checklist", args=[case.pk]),
        "propose": reverse("admin:verify_case_propose_verdict", args=[case.pk]),
        "review": reverse("admin:verify_case_review_verdict", args=[case.pk]),
    }


def test_it_keeps_every_desk_text_readable_in_the_light_and_dark_themes(
    live_server, browser, screenshot_dir, busy_case
):
    log_in(browser, live_server.url, "dana")
    problems, checked = {}, {}
    for theme in THEMES:
        use_theme(browser, live_server.url, theme)
        for name, path in desk_pages(busy_case).items():
            open_page(browser, live_server.url + path)
            body = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
            assert (body == DARK_BODY) == theme.startswith("dark"), (theme, body)
            report = contrast_report(browser)
            checked[theme, name] = report["checked"]
            if report["failures"]:
                problems[theme, name] = report["failures"]
            if name == "case":
                for details in browser.find_elements(By.CSS_SELECTOR, "#vd-media details"):
                    browser.execute_script("arguments[0].open = true", details)
                report = contrast_report(browser)
                problems.setdefault((theme, "case, raw readings open"), []).extend(report["failures"])
                save_full_page(browser, screenshot_dir / f"workspace-case-{theme}.png")
    unreadable = [
        f"{theme}/{page}: {f['text']!r} <{f['tag']} class={f['cls']!r}> {f['color']} on {f['background']} "
        f"= {f['ratio']} < {f['needed']}"
        for (theme, page), failures in problems.items()
        for f in failures
    ]
    assert unreadable == []
    # The walk reached the desk's text: the case page alone has its timeline, places, flags and summaries.
    assert min(checked[theme, "case"] for theme in THEMES) > 80
    assert min(checked.values()) >= 3  # the case list: its stage, priority and overdue badges


def test_it_shows_flag_sentences_and_summary_labels_in_the_dark_theme(live_server, browser, busy_case):
    log_in(browser, live_server.url, "dana")
    use_theme(browser, live_server.url, "dark-system")
    open_page(browser, live_server.url + desk_pages(busy_case)["case"])
    # The summary is in the file's details, fetched when its card is opened.
    browser.find_element(By.CSS_SELECTOR, "#vd-media .vd-card-name").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#vd-media .vd-summary th"))

    # Read in one script: the panel is re-fetched every few seconds while a file is being read.
    seen = browser.execute_script(
        "return ['#vd-media li.vd-flag', '#vd-media .vd-summary th'].map(function (selector) {"
        "  var element = document.querySelector(selector), style = getComputedStyle(element);"
        "  return [element.textContent.trim(), style.color]; })"
    )
    (flag_text, flag_colour), (label_text, label_colour) = seen
    assert flag_text and label_text == "Captured"
    # The light theme's greys (#333, #444) were what made them vanish on the dark background.
    assert flag_colour == label_colour == "rgb(238, 238, 238)" or {flag_colour, label_colour} <= {
        "rgb(238, 238, 238)",
        "rgb(224, 224, 224)",
    }
    assert contrast_report(browser, "#vd-media")["failures"] == []


def test_it_fits_1366_pixels_without_sideways_scrolling_and_wraps_a_300_character_name(
    live_server, browser, screenshot_dir, busy_case
):
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    log_in(browser, live_server.url, "dana")
    for theme in ("light", "dark-system"):
        use_theme(browser, live_server.url, theme)
        for name, path in desk_pages(busy_case).items():
            open_page(browser, live_server.url + path)
            widths = browser.execute_script(
                "var root = document.documentElement; return [root.scrollWidth, root.clientWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1] and widths[2] == 1366, (theme, name, widths)
        open_page(browser, live_server.url + desk_pages(busy_case)["case"])
        heading = browser.execute_script(
            "var h = document.querySelector('#vd-media .vd-card-name'), box = h.getBoundingClientRect();"
            "return [h.textContent, box.height, box.right]"
        )
        assert LONG_NAME[:40] in heading[0]
        assert heading[1] > 25 and heading[2] <= 1366  # wrapped over several lines, inside the page
        save_full_page(browser, screenshot_dir / f"workspace-1366-{theme}.png")


def test_it_asks_no_map_server_about_the_places_unless_tiles_are_configured(live_server, browser, busy_case):
    log_in(browser, live_server.url, "dana")
    page = desk_pages(busy_case)["case"]
    open_page(browser, live_server.url + page)
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )

    origin = urlsplit(live_server.url).netloc
    requested = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    requested.append(browser.current_url)
    assert [url for url in requested if urlsplit(url).netloc != origin] == []
    images = browser.execute_script("return Array.from(document.images).map(i => i.currentSrc || i.src)")
    assert [src for src in images if src and urlsplit(src).netloc not in ("", origin)] == []
    assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-container, .leaflet-tile") == []
    # Instead: coordinates, distances, and a link the user may choose to open.
    story = browser.find_element(By.ID, "vd-story")
    assert "43.467448, 11.885127" in story.text and " km" in story.text
    links = story.find_elements(By.CSS_SELECTOR, "a.vd-map-link")
    assert links and all(link.get_attribute("rel") == "noopener noreferrer" for link in links)
    assert all(link.get_attribute("href").startswith("https://www.openstreetmap.org/?mlat=") for link in links)
    html = browser.page_source
    assert "tile.openstreetmap.org" not in html and "data-tile-url" in html  # the panel's, empty
    assert 'data-tile-url=""' in html


def test_its_map_scripts_name_no_outside_address():
    static = Path(django_settings.BASE_DIR) / "verify" / "static" / "verify"
    for script in ("media-panel.js", "case-story.js"):
        assert "://" not in (static / script).read_text(encoding="utf-8"), script


def test_it_turns_pending_into_readings_without_a_reload(live_server, browser, screenshot_dir, busy_case):
    log_in(browser, live_server.url, "dana")
    open_page(browser, live_server.url + desk_pages(busy_case)["case"])
    story = browser.find_element(By.ID, "vd-story").text
    assert "Capture time pending: the file is still being read" in story
    assert "GPS pending for later.jpg" in story
    assert "No GPS reading in later.jpg" not in story
    browser.execute_script("document.body.dataset.notReloaded = 'yes'")

    read_everything()

    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: (
            "pending" not in driver.find_element(By.ID, "vd-story").text.lower()
            and "pending" not in driver.find_element(By.ID, "vd-media").text.lower()
        )
    )
    story = browser.find_element(By.ID, "vd-story").text
    assert "No GPS reading in later.jpg" in story
    assert "No capture time in the file" in story
    readings = Extraction.objects.filter(media_item__cases=busy_case).count()
    assert f"All {readings} readings have an outcome" in browser.find_element(By.ID, "vd-media").text
    assert browser.execute_script("return document.body.dataset.notReloaded") == "yes"
    save_full_page(browser, screenshot_dir / "workspace-after-reading.png")
