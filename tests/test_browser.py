"""The desk in a real browser: headless Chromium logs in, reads the case list and a case page, and keeps screenshots."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.factories import make_user
from verify import services
from verify.models import Case
from verify.seeds import load_seeds

FILTERS = ["stage", "assignee", "priority", "platform", "tags", "sensitivity"]
SEED_CASE = "tsaplienko-kursk-footage"
TIMELINE_KINDS = ["Case opened", "Sighting added", "Stage changed", "Reviewer assigned"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_it_shows_the_case_list_and_a_case_page_to_desk_staff(live_server, browser, screenshot_dir):
    load_seeds()
    desk = make_user("desk", username="dana")
    reviewer = make_user("reviewer", username="rafa")
    case = Case.objects.get(seed_key=SEED_CASE)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    titles = list(Case.objects.values_list("title", flat=True))

    log_in(browser, live_server.url, "dana")
    browser.get(f"{live_server.url}/admin/verify/case/")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "result_list")))

    result_list = browser.find_element(By.ID, "result_list").text
    assert [title for title in titles if title not in result_list] == []
    badges = browser.find_elements(By.CSS_SELECTOR, "#result_list .vd-badge")
    assert len(badges) == 2 * len(titles)  # a stage and a priority badge per case
    assert {"Triage", "Urgent"} <= {badge.text for badge in badges}
    assert "rafa (lead)" in result_list
    filters = [
        element.get_attribute("data-filter-title")
        for element in browser.find_elements(By.CSS_SELECTOR, "#changelist-filter details")
    ]
    assert filters == FILTERS
    list_shot = save_full_page(browser, screenshot_dir / "case-list.png")

    browser.get(f"{live_server.url}/admin/verify/case/{case.pk}/change/")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "case_form")))

    sightings = browser.find_element(By.ID, "sightings-group")
    assert len(sightings.find_elements(By.CSS_SELECTOR, "tr.form-row.has_original")) == case.sightings.count()
    assert "No media collected yet." in browser.find_element(By.ID, "vd-media").text
    timeline = browser.find_element(By.ID, "events-group").text
    assert [kind for kind in TIMELINE_KINDS if kind not in timeline] == []
    checklist = browser.find_element(By.ID, "checklist-group").text
    prompts = list(case.checklist.values_list("prompt", flat=True))
    assert prompts
    assert [prompt for prompt in prompts if prompt not in checklist] == []
    page_shot = save_full_page(browser, screenshot_dir / "case-page.png")

    for shot in (list_shot, page_shot):
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_it_shows_a_reviewer_each_file_with_its_readings(
    live_server, browser, screenshot_dir, corpus, settings, tmp_path, tasks_not_sent
):
    from verify import intake, pipeline

    settings.MEDIA_ROOT = tmp_path / "media"
    # Tiles cannot load here (no network): the map must give way to plain coordinates.
    settings.MAP_TILE_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    desk = make_user("desk", username="dana")
    reviewer = make_user("reviewer", username="rafa")
    case = services.open_case(by=desk, title="Footage said to show troops", claim="Shows troops in Kursk")
    for name in ("photos/DSCN0010.jpg", "video/with-gps.mov", "c2pa/CA.jpg"):
        intake.ingest_path(case=case, path=corpus / name, by=desk)
    for extraction in pipeline.Extraction.objects.filter(media_item__cases=case):
        pipeline.run_extraction(extraction.pk)

    log_in(browser, live_server.url, reviewer.username)
    browser.get(f"{live_server.url}/admin/verify/case/{case.pk}/change/")
    panel = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-media")))
    # Each file's details are fetched when its card is opened.
    for opened, name in enumerate(panel.find_elements(By.CSS_SELECTOR, ".vd-card-name"), start=1):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", name)
        name.click()
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda driver, opened=opened: (
                len(driver.find_elements(By.CSS_SELECTOR, "#vd-media .vd-card-body .vd-item")) == opened
            )
        )
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: "Map tiles unavailable" in driver.find_element(By.ID, "vd-media").text
    )
    text = panel.text
    readings = pipeline.Extraction.objects.filter(media_item__cases=case).count()  # every reader of each kind
    assert readings >= 13 and f"All {readings} readings have an outcome" in text
    assert "NIKON COOLPIX P6000" in text
    assert "43.467448, 11.885127" in text
    assert "C2PA Valid" in text
    assert "Apple iPhone 6" in text
    images = panel.find_elements(By.CSS_SELECTOR, ".vd-previews img")
    assert len(images) >= 3
    for image in images:  # previews load lazily: bring each into view, then it must decode
        browser.execute_script("arguments[0].scrollIntoView()", image)
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda driver, image=image: driver.execute_script("return arguments[0].naturalWidth > 0", image)
        )
    browser.execute_script("window.scrollTo(0, 0)")
    save_full_page(browser, screenshot_dir / "media-panel.png")


def click_link(driver, href_end: str) -> None:
    """Follow a link by where it goes (the admin's buttons show their text in capitals)."""
    driver.find_element(By.CSS_SELECTOR, f"a[href$='{href_end}']").click()


def in_panel(driver, selector: str) -> None:
    """Wait for a form the case page opened in its work panel."""
    WebDriverWait(driver, WAIT_SECONDS).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f"#vd-work-panel {selector}"))
    )


def submit_and_wait(driver, selector: str) -> None:
    """Submit with the button `selector` and wait for the page it leads to (the case page, again)."""
    button = driver.find_element(By.CSS_SELECTOR, selector)
    button.click()
    WebDriverWait(driver, WAIT_SECONDS).until(EC.staleness_of(button))
    WebDriverWait(driver, WAIT_SECONDS).until(EC.url_contains("/change/"))


def test_it_takes_a_case_from_queue_to_published_pdf(
    live_server, browser, screenshot_dir, settings, tmp_path, tasks_not_sent
):
    import io
    import subprocess
    import time

    from selenium.webdriver.support.ui import Select

    from tests.media import jpeg_bytes
    from verify import intake, pipeline

    settings.MEDIA_ROOT = tmp_path / "media"
    desk = make_user("desk", username="dana")
    reviewer = make_user("reviewer", username="rafa")
    editor = make_user("editor", username="eli")
    case = services.open_case(
        by=desk, title="Photo said to show troops in Kursk", claim="Shows North Korean troops in Kursk", priority=3
    )
    intake.ingest_stream(
        case=case, source=io.BytesIO(jpeg_bytes(size=(320, 240))), original_name="kursk.jpg", by=desk, origin="tip"
    )
    for extraction in pipeline.Extraction.objects.filter(media_item__cases=case):
        pipeline.run_extraction(extraction.pk)

    # The reviewer takes the next case from their queue.
    log_in(browser, live_server.url, reviewer.username)
    browser.get(f"{live_server.url}/admin/verify/case/my-queue/")
    browser.find_element(By.CSS_SELECTOR, ".vd-take input[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(EC.url_contains(f"/admin/verify/case/{case.pk}/change/"))
    save_full_page(browser, screenshot_dir / "path-1-taken.png")

    # ...answers the checklist...
    # The checklist's form opens in the case page's work panel.
    click_link(browser, "/checklist/")
    in_panel(browser, "select[name$='-status']")
    for select in browser.find_elements(By.CSS_SELECTOR, "select[name$='-status']"):
        Select(select).select_by_value("confirmed")
    for notes in browser.find_elements(By.CSS_SELECTOR, "textarea[name$='-notes']"):
        notes.send_keys("Checked against the earliest upload.")
    save_full_page(browser, screenshot_dir / "path-2-checklist.png")
    submit_and_wait(browser, "input[value='Save answers']")

    # ...and proposes a verdict.
    click_link(browser, "/propose-verdict/")
    in_panel(browser, "[name='rating']")
    Select(browser.find_element(By.NAME, "rating")).select_by_value("misleading")
    Select(browser.find_element(By.NAME, "confidence")).select_by_value("high")
    Select(browser.find_element(By.NAME, "media_category")).select_by_value("DecontextualizedContent")
    browser.find_element(By.NAME, "summary").send_keys("An older photo from elsewhere, recaptioned.")
    browser.find_element(By.NAME, "rationale").send_keys("The same photo was posted in 2022 with another caption.")
    Select(browser.find_element(By.NAME, "media-0-category")).select_by_value("DecontextualizedContent")
    save_full_page(browser, screenshot_dir / "path-3-propose.png")
    submit_and_wait(browser, "input[value='Propose this verdict']")
    case.refresh_from_db()
    assert case.stage == "awaiting_approval"

    # An editor approves it and downloads the PDF.
    browser.delete_all_cookies()
    log_in(browser, live_server.url, editor.username)
    browser.get(f"{live_server.url}/admin/verify/case/{case.pk}/change/")
    click_link(browser, "/review-verdict/")
    in_panel(browser, "[name='approve']")
    save_full_page(browser, screenshot_dir / "path-4-review.png")
    submit_and_wait(browser, "#vd-work-panel [name='approve']")
    case.refresh_from_db()
    assert case.stage == "published"

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    click_link(browser, "/report.pdf")
    deadline = time.monotonic() + WAIT_SECONDS
    while not list(downloads.glob("*.pdf")) and time.monotonic() < deadline:
        time.sleep(0.2)
    pdf = next(downloads.glob("*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(pdf), str(screenshot_dir / "path-5-pdf")], check=True, timeout=60
    )
    assert list(screenshot_dir.glob("path-5-pdf*.png"))


def test_it_shows_a_seen_before_flag_and_finds_a_dropped_file_in_the_archive(
    live_server, browser, screenshot_dir, settings, tmp_path, tasks_not_sent
):
    from tests.extractors.helpers import make_scene
    from verify import intake, pipeline

    settings.MEDIA_ROOT = tmp_path / "media"
    desk = make_user("desk", username="dana")
    picture = make_scene(21, size=(900, 600))
    files = {}
    for name, size, quality in (("depot.jpg", (900, 600), 92), ("repost.jpg", (600, 400), 50)):
        files[name] = tmp_path / name
        picture.resize(size).save(files[name], quality=quality)
    first = services.open_case(by=desk, title="Tanks at a rail depot", claim="Tanks unloaded near Kursk")
    second = services.open_case(by=desk, title="New tanks reach the front", claim="Fresh armour seen today")
    intake.ingest_path(case=first, path=files["depot.jpg"], by=desk)
    intake.ingest_path(case=second, path=files["repost.jpg"], by=desk)
    for extraction in pipeline.Extraction.objects.order_by("media_item_id", "pk"):
        pipeline.run_extraction(extraction.pk)

    log_in(browser, live_server.url, "dana")
    browser.get(f"{live_server.url}/admin/verify/case/{second.pk}/change/")
    panel = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-media")))
    WebDriverWait(browser, WAIT_SECONDS).until(lambda driver: "Near-duplicate of 'depot.jpg'" in panel.text)
    assert f"#{first.pk}" in panel.find_element(By.CSS_SELECTOR, ".vd-flag-links").text
    browser.execute_script("document.getElementById('vd-media').scrollIntoView()")
    save_full_page(browser, screenshot_dir / "seen-before-flag.png")

    browser.get(f"{live_server.url}/admin/verify/case/")
    click_link(browser, "/admin/verify/case/search-by-file/")
    browser.find_element(By.NAME, "file").send_keys(str(files["repost.jpg"]))
    browser.find_element(By.CSS_SELECTOR, ".vd-search-form input[type=submit]").click()
    results = (
        WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-search-results"))).text
    )
    assert "Tanks at a rail depot" in results and "New tanks reach the front" in results
    thumbs = browser.find_elements(By.CSS_SELECTOR, ".vd-search-thumb, .vd-search-query img")
    assert len(thumbs) == 3  # the dropped file, and the two archived items
    assert "the same file (identical bytes)" in results
    for image in thumbs:
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image)
    save_full_page(browser, screenshot_dir / "search-by-file.png")
