"""The case page's timeline and map: what case_story reads, how story.html shows it, and the map in a browser."""

import base64
import io
from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from PIL import Image, ImageDraw
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import WAIT_SECONDS, log_in, save_full_page
from tests.factories import add_media, make_case
from verify import services
from verify.case_story import case_story, distance_km, story_context
from verify.models import MediaItem

KURSK = (51.7304, 36.1926)
KYIV = (50.4501, 30.5234)
CLAIMED_AT = datetime(2024, 10, 18, 9, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 10, day, hour, minute, tzinfo=UTC)


def add_file(case, name: str, **summary) -> MediaItem:
    item = add_media(case, name=name, kind=MediaItem.Kind.PHOTO)
    MediaItem.objects.filter(pk=item.pk).update(**summary)
    item.refresh_from_db()
    return item


@pytest.fixture
def story_case(desk):
    """A claim about Kursk; a photo from Kyiv, a clip with a zone-less time and a 0,0 GPS, a bare screenshot."""
    case = make_case(
        by=desk,
        title="Strike said to show Kursk",
        claimed_place="Kursk",
        claimed_latitude=KURSK[0],
        claimed_longitude=KURSK[1],
        claimed_at=CLAIMED_AT,
    )
    photo = add_file(
        case,
        "kyiv.jpg",
        captured_at=at(17, 9, 30),
        captured_at_text="2024-10-17T12:30:00+03:00",
        gps_latitude=KYIV[0],
        gps_longitude=KYIV[1],
    )
    add_file(case, "night.mp4", captured_at_text="2024-10-18T11:00:00", gps_latitude=0.0, gps_longitude=0.0)
    add_file(case, "screenshot.png")
    services.add_sighting(
        case=case, by=desk, platform="x", account="@late_repost", url="https://x.com/a/1", posted_at=at(19, 8)
    )
    services.add_sighting(
        case=case,
        by=desk,
        platform="telegram",
        account="@first_channel",
        url="https://t.me/c/1",
        posted_at=at(17, 15),
        media_item=photo,
        caption="Kursk tonight",
    )
    services.add_sighting(case=case, by=desk, platform="facebook", account="Local group", url="https://fb.com/p/1")
    return case


def labels(events):
    return [event["label"] for event in events]


def test_it_orders_claim_captures_and_sightings_by_time(story_case):
    story = case_story(story_case)

    assert labels(story["events"]) == [
        "Captured: kyiv.jpg",
        "Posted on Telegram",
        "Claimed event",
        "Captured: night.mp4",
        "Posted on X (Twitter)",
    ]


def test_it_marks_the_earliest_sighting_as_first_appearance(story_case):
    events = case_story(story_case)["events"]

    first = [event for event in events if event["first_appearance"]]
    assert [(event["account"], event["when"]) for event in first] == [("@first_channel", "17 Oct 2024, 15:00 UTC")]
    assert first[0]["relative"] == "18 h before the claimed time"
    assert first[0]["url"] == "https://t.me/c/1"


def test_it_shows_capture_time_in_utc_with_the_offset_the_file_records(story_case):
    photo = case_story(story_case)["events"][0]

    assert photo["when"] == "17 Oct 2024, 09:30 UTC"
    assert photo["recorded"] == "file records 17 Oct 2024, 12:30 +03:00"
    assert photo["relative"] == "23 h 30 min before the claimed time"
    assert not photo["zone_unknown"]


def test_it_shows_a_capture_time_without_offset_as_local_time_of_unknown_zone(story_case):
    clip = next(event for event in case_story(story_case)["events"] if event["label"] == "Captured: night.mp4")

    assert clip["zone_unknown"]
    assert clip["when"] == "18 Oct 2024, 11:00 local"
    assert "no UTC offset: time zone unknown" in clip["recorded"]
    assert clip["window"] == "between 17 Oct 2024, 21:00 UTC and 18 Oct 2024, 23:00 UTC, whatever the zone"
    assert clip["relative"] == "before or after the claimed time, depending on the zone"


def test_it_lists_files_and_sightings_without_a_time_as_time_unknown(story_case):
    undated = case_story(story_case)["undated"]

    assert [(event["label"], event["why_unknown"]) for event in undated] == [
        ("Captured: screenshot.png", "No capture time in the file"),
        ("Posted on Facebook", "Posted time not recorded"),
    ]
    assert not any(event["first_appearance"] for event in undated)


def test_it_lists_an_unreadable_capture_time_as_time_unknown(desk):
    case = make_case(by=desk)
    add_file(case, "odd.jpg", captured_at_text="yesterday-ish")

    undated = case_story(case)["undated"]

    assert ("Captured: odd.jpg", "File records “yesterday-ish”, which is not a readable time") in [
        (event["label"], event["why_unknown"]) for event in undated
    ]


def test_it_lists_the_claim_as_time_unknown_without_a_claimed_time(desk):
    case = make_case(by=desk)

    story = case_story(case)

    assert story["events"] == []
    assert [(event["label"], event["why_unknown"]) for event in story["undated"]] == [
        ("Claimed event", "No claimed time on the case")
    ]


def test_it_measures_the_great_circle_distance_from_kursk_to_kyiv():
    # Haversine on the mean Earth radius; 414 km is a figure often quoted, the great circle is 420.6 km.
    assert round(distance_km(*KURSK, *KYIV), 1) == 420.6
    assert distance_km(*KYIV, *KYIV) == 0


def test_it_maps_the_claimed_place_and_each_gps_reading_with_its_distance(story_case):
    points = case_story(story_case)["points"]

    assert [(p["kind"], p["label"], p["latitude"], p["longitude"], p["distance_km"]) for p in points] == [
        ("claimed", "Kursk", *KURSK, None),
        ("gps", "kyiv.jpg", *KYIV, 420.6),
        ("gps", "night.mp4", 0.0, 0.0, 6672.8),
    ]


def test_it_keeps_a_zero_zero_reading_and_marks_it_impossible(story_case):
    story = case_story(story_case)
    zero = story["points"][2]

    assert (zero["latitude"], zero["longitude"]) == (0.0, 0.0)
    assert zero["impossible"].startswith("impossible")
    assert story["points"][1]["impossible"] == ""
    assert [(p["label"], p["drawable"]) for p in story["map_points"]] == [
        ("Kursk", True),
        ("kyiv.jpg", True),
        ("night.mp4", False),
    ]


def test_it_gives_no_distances_without_claimed_coordinates(desk):
    case = make_case(by=desk, claimed_place="Kursk")
    add_file(case, "kyiv.jpg", gps_latitude=KYIV[0], gps_longitude=KYIV[1])

    story = case_story(case)

    assert [(p["kind"], p["distance_km"]) for p in story["points"]] == [("gps", None)]
    assert not story["has_claimed_coordinates"]


def test_it_reads_the_story_in_the_same_number_of_queries_however_many_files(
    story_case, desk, django_assert_num_queries
):
    with django_assert_num_queries(2):
        case_story(story_case)
    for number in range(5):
        item = add_file(story_case, f"more-{number}.jpg", gps_latitude=50.0 + number, gps_longitude=30.0)
        services.add_sighting(case=story_case, by=desk, platform="other", posted_at=at(20, number), media_item=item)

    with django_assert_num_queries(2):
        case_story(story_case)


def test_it_renders_the_timeline_and_the_table_of_points_without_javascript(story_case):
    html = render_to_string("admin/verify/case/story.html", story_context(story_case))

    assert html.index("kyiv.jpg") < html.index("Claimed event") < html.index("night.mp4")
    assert "First appearance" in html
    assert '<time datetime="2024-10-17T15:00:00+00:00">17 Oct 2024, 15:00 UTC</time>' in html
    assert "Time unknown" in html
    assert "420.6 km" in html
    assert "6,672.8 km" in html
    assert "51.730400, 36.192600" in html
    assert "0.000000, 0.000000" in html
    # No tile URL is configured: no map box, no points for a map script, a link per point instead.
    assert 'id="vd-story-points"' not in html and "vd-story-map" not in html
    assert (
        'href="https://www.openstreetmap.org/?mlat=50.450100&amp;mlon=30.523400#map=12/50.450100/30.523400" '
        'rel="noopener noreferrer" target="_blank"'
    ) in html


def test_it_hands_the_map_script_its_points_when_tiles_are_configured(story_case, settings):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"

    html = render_to_string("admin/verify/case/story.html", story_context(story_case))

    assert 'id="vd-story-points"' in html
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in html
    assert "openstreetmap.org" not in html


def test_it_says_there_is_nothing_to_map_without_coordinates(desk):
    case = make_case(by=desk, claimed_place="Kursk")
    add_file(case, "screenshot.png")

    html = render_to_string("admin/verify/case/story.html", story_context(case))

    assert "No claimed coordinates and no GPS reading in the files." in html
    assert "No GPS reading in screenshot.png." in html
    assert "vd-story-map" not in html


def test_it_shows_the_story_on_the_case_page(client, story_case, reviewer):
    client.force_login(reviewer)

    response = client.get(f"/admin/verify/case/{story_case.pk}/change/")

    assert response.status_code == 200
    assert 'id="vd-story"' in response.text
    assert "420.6 km" in response.text
    assert "verify/case-story.js" in response.text


# In a real browser: the map draws from the page's data, and gives way to the table when tiles fail.


def blank_tile_url() -> str:
    """A tile template that always yields the same plain PNG, so the map draws without a network."""
    tile = Image.new("RGB", (256, 256), "#eef1ea")
    ImageDraw.Draw(tile).rectangle([0, 0, 255, 255], outline="#d5dbcf")
    buffer = io.BytesIO()
    tile.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def save_section(driver, element, path):
    """Capture one element of the page, even when it is taller than the window, as a PNG."""
    box = driver.execute_script(
        "var r = arguments[0].getBoundingClientRect();"
        "return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};",
        element,
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": {**box, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_draws_the_claimed_place_and_gps_readings_with_distances(
    live_server, browser, screenshot_dir, settings, story_case, reviewer
):
    settings.MAP_TILE_URL = blank_tile_url()
    log_in(browser, live_server.url, reviewer.username)
    browser.get(f"{live_server.url}/admin/verify/case/{story_case.pk}/change/")
    section = WebDriverWait(browser, WAIT_SECONDS).until(EC.presence_of_element_located((By.ID, "vd-story")))
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, "#vd-story .leaflet-tooltip.vd-story-km")
    )

    assert [e.text for e in section.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip.vd-story-km")] == ["420.6 km"]
    assert len(section.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon")) == 1  # 0,0 is listed, not drawn
    assert len(section.find_elements(By.CSS_SELECTOR, "path.vd-story-claimed")) == 1
    assert "Claimed: Kursk" in section.find_element(By.CSS_SELECTOR, ".vd-story-claimed-label").text
    table = section.find_element(By.CSS_SELECTOR, "table.vd-story-points").text
    assert "420.6 km" in table and "impossible" in table
    timeline = section.find_element(By.CSS_SELECTOR, ".vd-story-timeline").text
    assert "FIRST APPEARANCE" in timeline.upper()
    assert save_section(browser, section, screenshot_dir / "case-story.png").read_bytes().startswith(b"\x89PNG")
    save_full_page(browser, screenshot_dir / "case-story-page.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_leaves_the_table_of_points_when_map_tiles_cannot_load(
    live_server, browser, screenshot_dir, settings, story_case, reviewer
):
    settings.MAP_TILE_URL = f"{live_server.url}/no-tiles/{{z}}/{{x}}/{{y}}.png"
    log_in(browser, live_server.url, reviewer.username)
    browser.get(f"{live_server.url}/admin/verify/case/{story_case.pk}/change/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda driver: "Map tiles unavailable" in driver.find_element(By.CSS_SELECTOR, ".vd-story-map").text
    )

    section = browser.find_element(By.ID, "vd-story")
    assert section.find_elements(By.CSS_SELECTOR, ".leaflet-container") == []
    assert "420.6 km" in section.find_element(By.CSS_SELECTOR, "table.vd-story-points").text
    save_section(browser, section, screenshot_dir / "case-story-offline.png")
