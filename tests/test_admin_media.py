"""Adding media from the case page, the reviewer's media panel, and evidence files behind a login."""

import runpy
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import make_case
from tests.media import jpeg_bytes
from verify import intake, pipeline
from verify.models import MediaItem
from workers.extractors import extractors_for

pytestmark = pytest.mark.usefixtures("media_root", "tasks_not_sent")


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


def upload(client, case, *files, url=""):
    return client.post(
        reverse("admin:verify_case_add_media", args=[case.pk]), {"files": list(files), "url": url}, follow=True
    )


def photo(name, seed):
    return SimpleUploadedFile(name, jpeg_bytes(seed=seed), content_type="image/jpeg")


def test_it_adds_several_files_at_once_from_the_case_page(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    response = upload(desk_client, case, photo("one.jpg", 1), photo("two.jpg", 2), photo("same-as-one.jpg", 1))
    assert response.redirect_chain[-1][0].endswith(f"/admin/verify/case/{case.pk}/change/#vd-media")
    shown = [str(m) for m in response.context["messages"]]
    assert f"2 file(s) added to case #{case.pk}; the readers are working on them." in shown
    assert "same-as-one.jpg: the same file is already in this case (as one.jpg)" in shown
    assert sorted(case.media_items.values_list("original_name", flat=True)) == ["one.jpg", "two.jpg"]


def test_it_refuses_more_files_than_the_limit_with_a_clear_message(desk_client, desk, settings):
    settings.MAX_UPLOAD_FILES = 2
    case = make_case(by=desk, stage="triage")
    response = upload(desk_client, case, photo("a.jpg", 1), photo("b.jpg", 2), photo("c.jpg", 3))
    assert "3 files chosen; at most 2 can be added at once." in response.content.decode()
    assert not MediaItem.objects.exists()


def test_it_says_how_many_files_were_too_many_at_the_limits_settings_derives(desk_client, desk, settings, monkeypatch):
    # The two limits as settings.py derives them from MAX_UPLOAD_FILES, not as a test would pick them.
    monkeypatch.setenv("MAX_UPLOAD_FILES", "3")
    derived = runpy.run_path(str(Path(intake.__file__).with_name("settings.py")))
    settings.MAX_UPLOAD_FILES = derived["MAX_UPLOAD_FILES"]
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = derived["DATA_UPLOAD_MAX_NUMBER_FILES"]
    case = make_case(by=desk, stage="triage")
    response = upload(desk_client, case, *(photo(f"{n}.jpg", n) for n in range(4)))
    assert response.status_code == 200
    assert "4 files chosen; at most 3 can be added at once." in response.content.decode()
    assert not MediaItem.objects.exists()


def test_it_refuses_a_file_over_the_size_limit_by_name(desk_client, desk, settings):
    settings.MAX_UPLOAD_BYTES = 500
    case = make_case(by=desk, stage="triage")
    response = upload(desk_client, case, photo("big.jpg", 1))
    assert "Over the 500 bytes limit for one file: big.jpg" in response.content.decode()


def test_it_asks_for_a_file_or_a_link(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    response = upload(desk_client, case)
    assert "Choose at least one file, or give a link to download." in response.content.decode()


def test_it_shows_each_file_with_its_readings_on_the_case_page(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    item = intake.ingest_stream(
        case=case, source=SimpleUploadedFile("x.jpg", jpeg_bytes()), original_name="x.jpg", by=desk, origin="t"
    ).media_item
    html = desk_client.get(reverse("admin:verify_case_change", args=[case.pk])).content.decode()
    assert item.sha256 in html
    readers = len(extractors_for("photo"))
    assert f"Reading files… 0 of {readers} readings done" in html
    for extraction in item.extractions.all():
        pipeline.run_extraction(extraction.pk)
    panel = desk_client.get(reverse("admin:verify_case_media_panel", args=[case.pk])).content.decode()
    assert f"All {readers} readings have an outcome" in panel
    assert 'data-pending="0"' in panel
    assert reverse("media-artifact", args=[item.sha256, "perceptual", "thumb.jpg"]) in panel  # the card's thumbnail
    details = desk_client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk])).content.decode()
    assert "Raw readings" in details and item.sha256 in details


def test_it_serves_evidence_only_to_logged_in_desk_users(client, desk):
    case = make_case(by=desk, stage="triage")
    data = jpeg_bytes()
    item = intake.ingest_stream(
        case=case, source=SimpleUploadedFile("x.jpg", data), original_name="x.jpg", by=desk, origin="t"
    ).media_item
    url = reverse("media-original", args=[item.sha256])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(desk)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_open_raw_readings_open_while_the_panel_refreshes(live_server, browser, desk):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browsing import WAIT_SECONDS, log_in

    case = make_case(by=desk, stage="triage")
    items = [
        intake.ingest_stream(
            case=case, source=SimpleUploadedFile(name, jpeg_bytes(seed=seed)), original_name=name, by=desk, origin="t"
        ).media_item
        for name, seed in (("first.jpg", 1), ("second.jpg", 2))
    ]
    waiting = [item.extractions.get(extractor="forensics") for item in items]
    for extraction in pipeline.Extraction.objects.exclude(pk__in=[e.pk for e in waiting]):
        pipeline.run_extraction(extraction.pk)

    log_in(browser, live_server.url, desk.username)
    browser.get(f"{live_server.url}/admin/verify/case/{case.pk}/change/")
    wait = WebDriverWait(browser, WAIT_SECONDS)

    def raw_readings(item):
        return browser.find_element(By.CSS_SELECTOR, f"#media-{item.sha256[:12]} details.vd-raw")

    # A file's details, raw readings among them, are fetched when its card is opened.
    browser.find_element(By.CSS_SELECTOR, f"#media-{items[1].sha256[:12]} .vd-card-name").click()
    wait.until(lambda driver: driver.find_elements(By.CSS_SELECTOR, f"#media-{items[1].sha256[:12]} details.vd-raw"))
    raw_readings(items[1]).find_element(By.TAG_NAME, "summary").click()
    assert raw_readings(items[1]).get_attribute("open") is not None
    # The next refresh brings news of one more reading, in freshly replaced HTML.
    pipeline.run_extraction(waiting[0].pk)
    readings = 2 * len(extractors_for("photo"))
    almost = f"{readings - 1} of {readings} readings done"
    wait.until(lambda driver: almost in driver.find_element(By.ID, "vd-media").text)
    assert raw_readings(items[1]).get_attribute("open") is not None
    assert browser.find_elements(By.CSS_SELECTOR, f"#media-{items[0].sha256[:12]} details.vd-raw") == []
    pipeline.run_extraction(waiting[1].pk)
    wait.until(lambda driver: f"All {readings} readings have an outcome" in driver.find_element(By.ID, "vd-media").text)
    # That file's card was drawn again and its details read again, with the raw readings still open.
    read_again = (
        "var raw = document.querySelector(arguments[0]);"
        "return Boolean(raw) && !raw.parentElement.textContent.includes('waiting for a worker')"
    )
    wait.until(lambda driver: driver.execute_script(read_again, f"#media-{items[1].sha256[:12]} details.vd-raw"))
    assert raw_readings(items[1]).get_attribute("open") is not None


@pytest.mark.parametrize("name", ["..%2F..%2Fsettings.py", "thumb.exe", "a" * 80 + ".jpg"])
def test_it_refuses_derived_file_names_outside_the_pattern(desk_client, desk, name):
    case = make_case(by=desk, stage="triage")
    item = intake.ingest_stream(
        case=case, source=SimpleUploadedFile("x.jpg", jpeg_bytes()), original_name="x.jpg", by=desk, origin="t"
    ).media_item
    response = desk_client.get(f"/desk/media/{item.sha256}/perceptual/{name}")
    assert response.status_code == 404
