"""Consistency flags: each rule on readings built here, then the Flag rows that the pipeline and services keep."""

import io
import math
import struct
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tests.factories import make_case
from tests.media import jpeg_bytes, mp4_file
from verify import flags, intake, pipeline, services
from verify.models import Flag, MediaItem

CLAIMED_AT = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
KYIV = (50.4501, 30.5234)
LVIV = (49.8397, 24.0297)  # about 470 km west of Kyiv
LOS_ANGELES = (34.0522, -118.2437)


def claim(claimed_at=CLAIMED_AT, point=KYIV, place="Kyiv") -> flags.Claim:
    latitude, longitude = point if point else (None, None)
    return {"claimed_at": claimed_at, "latitude": latitude, "longitude": longitude, "place": place}


def photo(sightings=(), **results) -> flags.Readings:
    return {"kind": "photo", "results": results, "summary": {}, "sightings": list(sightings)}


def video(**results) -> flags.Readings:
    return {"kind": "video", "results": results, "summary": {}, "sightings": []}


def exif(**fields) -> dict:
    reading = {"make": "Canon", "model": "Canon EOS 5D", "software": None, "captured_at": None, "gps": None}
    reading.update(fields)
    return reading


def taken_at(text, source="EXIF DateTimeOriginal") -> dict:
    return exif(captured_at=text, captured_at_source=source)


def at(latitude, longitude, source="EXIF GPS") -> dict:
    return exif(gps={"latitude": latitude, "longitude": longitude, "altitude": None}, gps_source=source)


def only(specs, kind=None):
    assert len(specs) == 1, specs
    assert kind is None or specs[0].kind == kind
    return specs[0]


# Capture after the claimed time


def test_it_flags_a_capture_days_after_the_claimed_time_as_high():
    spec = only(flags.capture_after_claim(claim(), photo(exif=taken_at("2024-05-12T16:30:00+02:00"))))
    assert (spec.kind, spec.severity) == ("capture-after-claim", "high")
    assert spec.message.startswith("Captured 2 days after the claimed time: the file says 2024-05-12T16:30:00+02:00")
    assert "(EXIF DateTimeOriginal), the claim says 2024-05-10 12:00 UTC" in spec.message
    assert spec.data["difference_hours"] == 50.5


def test_it_flags_a_capture_hours_after_the_claimed_time_as_low_since_claims_are_often_day_precise():
    spec = only(flags.capture_after_claim(claim(), photo(exif=taken_at("2024-05-10T18:00:00+00:00"))))
    assert spec.severity == "low"
    assert "Captured 6 h after the claimed time" in spec.message
    assert "known only to the day" in spec.message


def test_it_does_not_flag_a_capture_within_the_hour_of_the_claimed_time():
    assert flags.capture_after_claim(claim(), photo(exif=taken_at("2024-05-10T12:50:00+00:00"))) == []


def test_it_allows_fourteen_hours_for_a_capture_time_without_a_time_zone():
    readings = photo(exif=taken_at("2024-05-11T02:30:00"))  # 14 h 30 min after, if it were UTC
    assert flags.capture_after_claim(claim(), readings) == []
    spec = only(flags.capture_after_claim(claim(), photo(exif=taken_at("2024-05-13T12:00:00"))))
    assert spec.severity == "high"
    assert "Captured at least 2 days after" in spec.message
    assert "has no time zone (local time of an unknown zone), so it was compared allowing ±14 h" in spec.message
    assert spec.data["time_zone_known"] is False


def test_it_says_a_video_container_time_may_be_the_time_of_a_copy():
    written = "2024-05-20T08:00:00+00:00"
    spec = only(flags.capture_after_claim(claim(), video(video={"captured_at": written, "created_at": written})))
    assert spec.severity == "medium"
    assert "(the container's creation time)" in spec.message
    assert "for a re-encoded or re-saved copy is the time of the copy" in spec.message


def test_it_trusts_a_quicktime_capture_date_as_a_capture_time():
    readings = video(video={"captured_at": "2024-05-20T11:00:00+03:00", "created_at": "2024-05-20T08:00:05+00:00"})
    spec = only(flags.capture_after_claim(claim(), readings))
    assert spec.severity == "high"
    assert "(the QuickTime capture date)" in spec.message


def test_it_skips_the_time_rules_without_a_claimed_time_or_a_capture_time():
    readings = photo(exif=taken_at("2024-06-12T16:30:00+02:00"))
    assert flags.capture_after_claim(claim(claimed_at=None), readings) == []
    assert flags.capture_long_before_claim(claim(claimed_at=None), readings) == []
    assert flags.capture_after_claim(claim(), photo(exif=exif())) == []
    assert flags.capture_after_claim(claim(), photo(exif=taken_at("not a time"))) == []


# Capture long before the claimed time


def test_it_does_not_flag_a_capture_a_few_days_before_the_claimed_time():
    assert flags.capture_long_before_claim(claim(), photo(exif=taken_at("2024-05-01T09:00:00+03:00"))) == []


def test_it_flags_a_capture_months_before_the_claimed_time_as_medium():
    spec = only(flags.capture_long_before_claim(claim(), photo(exif=taken_at("2024-01-15T09:00:00+03:00"))))
    assert (spec.kind, spec.severity) == ("capture-long-before-claim", "medium")
    assert spec.message.startswith("Captured 116 days before the claimed time")
    assert "Old footage presented as new looks like this" in spec.message


def test_it_flags_a_capture_years_before_the_claimed_time_as_high():
    spec = only(flags.capture_long_before_claim(claim(), photo(exif=taken_at("2022-02-24T05:00:00+02:00"))))
    assert spec.severity == "high"
    assert "about 2.2 years (806 days) before the claimed time" in spec.message


def test_it_says_when_a_long_before_date_is_one_an_unset_clock_reports():
    spec = only(flags.capture_long_before_claim(claim(), photo(exif=taken_at("2000-01-01T00:03:11"))))
    assert spec.severity == "low"
    assert "01 January 2000 is a date clocks fall back to when never set" in spec.message
    assert spec.data["unset_clock_date"] is True


# GPS


def test_it_measures_the_distance_from_the_claimed_place_in_km():
    spec = only(flags.gps_distance(claim(), photo(exif=at(*LVIV))))
    assert (spec.kind, spec.severity) == ("gps-distance", "high")
    assert spec.data["distance_km"] == pytest.approx(467.5, abs=0.1)
    assert f"is {spec.data['distance_km']:,.1f} km from the claimed place, Kyiv (50.4501, 30.5234)." in spec.message


@pytest.mark.parametrize(
    ("point", "severity"),
    [
        ((50.4601, 30.5234), "info"),  # about 1 km
        ((50.5501, 30.5234), "low"),  # about 11 km
        ((50.9, 30.5234), "medium"),  # about 50 km
        ((48.0, 30.5234), "high"),  # about 270 km
    ],
)
def test_it_grades_the_distance_by_bands(point, severity):
    assert only(flags.gps_distance(claim(), photo(exif=at(*point)))).severity == severity


def test_it_says_so_when_the_position_fits_the_claimed_place():
    spec = only(flags.gps_distance(claim(), photo(exif=at(50.4601, 30.5234))))
    assert spec.message.endswith(
        "is 1.1 km from the claimed place, Kyiv (50.4501, 30.5234). That fits the claimed place."
    )


def test_it_reports_a_position_without_claimed_coordinates_as_info():
    spec = only(flags.gps_distance(claim(point=None), photo(exif=at(*LVIV))))
    assert spec.severity == "info"
    assert (
        "the case has no claimed coordinates, so its distance from the claimed place was not measured" in spec.message
    )
    assert spec.data["distance_km"] is None


def test_it_points_out_a_flipped_hemisphere_near_the_claimed_place():
    readings = photo(exif=at(34.0754, 118.2543, source="FLIR GPSInfo"))
    spec = only(flags.gps_distance(claim(point=LOS_ANGELES, place="Los Angeles"), readings))
    assert spec.severity == "high"
    assert spec.data["distance_km"] > 10_000
    assert spec.data["mirrored"] == "longitude"
    assert spec.data["mirrored_km"] < 5
    assert "With its longitude sign flipped (34.075400, -118.254300) it would be" in spec.message


def test_it_reads_a_video_position():
    spec = only(flags.gps_distance(claim(), video(video={"gps": {"latitude": 50.45, "longitude": 30.52}})))
    assert (spec.severity, spec.data["source"]) == ("info", "the container's location tag")


def test_it_flags_gps_at_zero_zero_as_a_phone_without_a_fix_and_does_not_measure_it():
    readings = photo(exif=at(0.0, 0.0))
    spec = only(flags.gps_impossible(claim(), readings))
    assert (spec.kind, spec.severity) == ("gps-impossible", "low")
    assert "exactly 0,0" in spec.message and "without a satellite fix" in spec.message
    assert flags.gps_distance(claim(), readings) == []


@pytest.mark.parametrize(
    ("latitude", "longitude", "reason"),
    [
        (91.5, 30.0, "has a latitude beyond ±90°"),
        (50.0, -180.5, "has a longitude beyond ±180°"),
        (math.nan, 30.0, "is not a finite number"),
        ("N 50", 30.0, "is not a number"),
    ],
)
def test_it_flags_positions_off_the_globe_as_medium(latitude, longitude, reason):
    readings = video(video={"gps": {"latitude": latitude, "longitude": longitude}})
    spec = only(flags.gps_impossible(claim(), readings))
    assert (spec.severity, spec.data["reason"]) == ("medium", reason)
    assert reason in spec.message
    assert flags.gps_distance(claim(), readings) == []


def test_it_keeps_a_nan_position_out_of_the_flag_data_as_a_number():
    spec = only(flags.gps_impossible(claim(), photo(exif=at(math.nan, 30.0))))
    assert spec.data["latitude"] == "nan"


def test_it_leaves_a_real_position_to_the_distance_rule():
    assert flags.gps_impossible(claim(), photo(exif=at(*LVIV))) == []
    assert flags.gps_impossible(claim(), photo(exif=exif())) == []


# Metadata stripped


def test_it_flags_a_photo_without_camera_capture_time_or_gps_and_names_the_absent_fields():
    spec = only(flags.metadata_stripped(claim(), photo(exif=exif(make=None, model=None))))
    assert (spec.kind, spec.severity) == ("metadata-stripped", "low")
    assert spec.data["absent"] == ["camera make", "camera model", "capture time", "GPS position"]
    assert spec.message.startswith(
        "The file's metadata has no camera make, camera model, capture time or GPS position."
    )
    assert "messaging apps or social platforms" in spec.message


def test_it_does_not_call_a_photo_stripped_when_it_names_its_camera():
    assert flags.metadata_stripped(claim(), photo(exif=exif(model=None))) == []


def test_it_lists_gps_only_when_it_is_absent():
    readings = photo(exif=exif(make=None, model=None, gps={"latitude": 1.0, "longitude": 2.0}))
    assert only(flags.metadata_stripped(claim(), readings)).data["absent"] == [
        "camera make",
        "camera model",
        "capture time",
    ]


def test_it_flags_a_video_without_creation_time_make_or_model():
    spec = only(flags.metadata_stripped(claim(), video(video={"make": None, "model": None, "created_at": None})))
    assert spec.data["absent"] == ["device make", "device model", "creation time"]


def test_it_says_nothing_about_stripping_when_the_metadata_was_not_read():
    assert flags.metadata_stripped(claim(), photo(image={"width": 10, "height": 10})) == []


# Editing software


def test_it_flags_an_editor_named_in_the_software_field():
    spec = only(flags.editing_software(claim(), photo(exif=exif(software="Adobe Photoshop CS2 Macintosh"))))
    assert (spec.kind, spec.severity) == ("editing-software", "medium")
    assert spec.message == (
        "The metadata names software beyond the camera: Adobe Photoshop (EXIF Software: “Adobe Photoshop CS2 "
        "Macintosh”) is an editor: the file was opened and saved by it, which may or may not have changed its content."
    )


@pytest.mark.parametrize(
    ("software", "product", "severity"),
    [
        ("Adobe Photoshop Lightroom Classic 12.1 (Windows)", "Adobe Lightroom", "medium"),
        ("GIMP 2.10.34", "GIMP", "medium"),
        ("Snapseed 2.0", "Snapseed", "medium"),
        ("PicsArt", "PicsArt", "medium"),
        ("Canva", "Canva", "medium"),
        ("Adobe Firefly", "Adobe Firefly", "high"),
        ("Adobe Bridge CS5", "Adobe Bridge", "low"),
    ],
)
def test_it_knows_editors_and_their_weight(software, product, severity):
    spec = only(flags.editing_software(claim(), photo(exif=exif(software=software))))
    assert (spec.data["tools"][0]["product"], spec.severity) == (product, severity)


@pytest.mark.parametrize(
    "software", ["fw 05.15 prm 07.53", "15.2.1", "v7H1-74e", "Nikon Transfer 1.1 W", "Common_fileformat", "Canvas 3"]
)
def test_it_does_not_take_camera_firmware_for_an_editor(software):
    assert flags.editing_software(claim(), photo(exif=exif(software=software))) == []


@pytest.mark.parametrize(
    ("fields", "product", "severity"),
    [
        ({"encoder": "Lavf58.76.100"}, "FFmpeg (libavformat/libavcodec)", "low"),
        ({"software": "CapCut"}, "CapCut", "medium"),
        ({"encoder": "InShot Video Editor"}, "InShot", "medium"),
        ({"software": "Adobe Premiere Pro 2024"}, "Adobe Premiere", "medium"),
        ({"encoder": "DaVinci Resolve"}, "DaVinci Resolve", "medium"),
    ],
)
def test_it_flags_video_editors_and_re_encoders(fields, product, severity):
    spec = only(flags.editing_software(claim(), video(video=fields)))
    assert (spec.data["tools"][0]["product"], spec.severity) == (product, severity)


def test_it_takes_the_most_severe_of_several_tools():
    readings = video(video={"software": "CapCut", "encoder": "Lavf60.3.100"})
    spec = only(flags.editing_software(claim(), readings))
    assert spec.severity == "medium"
    assert [tool["product"] for tool in spec.data["tools"]] == ["CapCut", "FFmpeg (libavformat/libavcodec)"]


# Thumbnail


def image_reading(size, thumbnail, **extra) -> dict:
    return {"width": size[0], "height": size[1], "has_exif_thumbnail": True, "exif_thumbnail": thumbnail} | extra


def test_it_flags_a_thumbnail_of_another_shape_as_a_crop():
    readings = photo(image=image_reading((1200, 1200), {"width": 160, "height": 90}))
    spec = only(flags.thumbnail_differs(claim(), readings))
    assert (spec.kind, spec.severity, spec.data["shape"]) == ("thumbnail-differs", "medium", "different")
    assert "(160 × 90) has a different shape from the picture (1200 × 1200): the picture was cropped" in spec.message


def test_it_accepts_a_thumbnail_of_the_same_shape_within_rounding():
    assert flags.thumbnail_differs(claim(), photo(image=image_reading((858, 570), {"width": 160, "height": 106}))) == []
    assert flags.thumbnail_differs(claim(), photo(image=image_reading((480, 640), {"width": 45, "height": 60}))) == []


def test_it_does_not_compare_the_shape_of_a_letterboxed_dcf_thumbnail():
    # A 3:2 Canon photo with its 160 x 120 thumbnail, black bars and all.
    readings = photo(image=image_reading((3888, 2592), {"width": 160, "height": 120}))
    assert flags.thumbnail_differs(claim(), readings) == []


def test_it_flags_a_quarter_turned_thumbnail_as_a_rotation():
    readings = photo(image=image_reading((900, 1600), {"width": 160, "height": 90}), exif=exif(orientation=1))
    spec = only(flags.thumbnail_differs(claim(), readings))
    assert (spec.severity, spec.data["shape"]) == ("low", "turned")
    assert "is turned a quarter turn from the picture (900 × 1600) (EXIF orientation 1)" in spec.message


def test_it_flags_a_thumbnail_whose_perceptual_hash_shows_other_content_as_high():
    readings = photo(
        image=image_reading((640, 480), {"width": 160, "height": 120, "phash": "ffff0000ffff0000"}),
        perceptual={"hash": "0000ffff0000ffff", "quality": "ok"},
    )
    spec = only(flags.thumbnail_differs(claim(), readings))
    assert (spec.severity, spec.data["hash_distance"]) == ("high", 64)
    assert "shows different content from the picture (64 of 64 perceptual-hash bits differ)" in spec.message


def test_it_accepts_a_thumbnail_whose_perceptual_hash_is_near_the_pictures():
    readings = photo(
        image=image_reading((640, 480), {"width": 160, "height": 120, "phash": "ffff0000ffff000f"}),
        perceptual={"hash": "ffff0000ffff0000", "quality": "ok"},
    )
    assert flags.thumbnail_differs(claim(), readings) == []


def test_it_ignores_a_missing_or_undecodable_thumbnail():
    assert flags.thumbnail_differs(claim(), photo(image={"width": 10, "height": 10, "has_exif_thumbnail": False})) == []
    assert flags.thumbnail_differs(claim(), photo(image=image_reading((640, 480), None))) == []


# Content Credentials


def c2pa_reading(state, codes=(), **fields) -> dict:
    errors = [{"code": code, "explanation": f"{code} explained", "url": None} for code in codes]
    reading = {
        "present": state is not None,
        "validation_state": state,
        "validation_errors": errors,
        "signer": "C2PA Test Signing Cert",
        "claim_generator": "make_test_images/0.33.1 c2pa-rs/0.33.1",
        "actions": [],
    }
    return reading | fields


def test_it_reports_valid_credentials_with_their_signer_as_info():
    readings = photo(c2pa=c2pa_reading("Valid", codes=["signingCredential.untrusted"]))
    spec = only(flags.c2pa_credentials(claim(), readings))
    assert (spec.kind, spec.severity) == ("c2pa", "info")
    assert spec.message.startswith(
        "The file has valid Content Credentials (C2PA), signed by C2PA Test Signing Cert with make_test_images/0.33.1"
    )
    assert "no trust list is configured" in spec.message


def test_it_flags_invalid_credentials_as_high_and_explains_the_failures():
    readings = photo(c2pa=c2pa_reading("Invalid", codes=["signingCredential.untrusted", "assertion.dataHash.mismatch"]))
    spec = only(flags.c2pa_credentials(claim(), readings))
    assert spec.severity == "high"
    assert "are invalid (signed by C2PA Test Signing Cert with make_test_images/0.33.1 c2pa-rs/0.33.1)" in spec.message
    assert "assertion.dataHash.mismatch: the file's bytes no longer match the signed hash" in spec.message
    assert "signingCredential.untrusted" not in spec.message
    assert spec.data["codes"] == ["signingCredential.untrusted", "assertion.dataHash.mismatch"]


def test_it_explains_an_unknown_failure_code_in_c2pas_words():
    spec = only(flags.c2pa_credentials(claim(), photo(c2pa=c2pa_reading("Invalid", codes=["made.up"]))))
    assert "made.up: made.up explained" in spec.message


def test_it_reports_absent_credentials_for_photos_and_videos_only():
    absent = {"present": False, "remote_manifest": None}
    assert only(flags.c2pa_credentials(claim(), photo(c2pa=absent))).message.startswith("No Content Credentials")
    assert only(flags.c2pa_credentials(claim(), video(c2pa=absent))).data == {"state": "absent"}
    other = {"kind": "other", "results": {"c2pa": absent}, "summary": {}, "sightings": []}
    assert flags.c2pa_credentials(claim(), other) == []


def test_it_raises_valid_credentials_that_declare_generative_ai_to_medium():
    source = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    readings = photo(c2pa=c2pa_reading("Valid", actions=[{"action": "c2pa.created", "digital_source_type": source}]))
    spec = only(flags.c2pa_credentials(claim(), readings))
    assert spec.severity == "medium"
    assert "declares the content as generated by AI (trainedAlgorithmicMedia)" in spec.message


# First seen


def sighting(posted_at, platform="Telegram", account="@channel"):
    return {"posted_at": posted_at, "platform": platform, "account": account, "url": "https://t.me/channel/1"}


def test_it_flags_a_file_posted_before_the_claimed_time_as_high():
    sightings = [sighting(datetime(2024, 5, 12, tzinfo=UTC)), sighting(datetime(2023, 3, 1, 8, 0, tzinfo=UTC), "X")]
    spec = only(flags.first_seen_before_claim(claim(), sightings))
    assert (spec.kind, spec.severity) == ("first-seen-before-claim", "high")
    assert spec.message == (
        "This file was posted about 1.2 years (436 days) before the claimed time: X, @channel at 2023-03-01 08:00 UTC, "
        "the claim says "
        "2024-05-10 12:00 UTC. The file existed before the event it supposedly shows."
    )


def test_it_does_not_flag_sightings_after_the_claimed_time_or_without_a_date():
    sightings = [sighting(None), sighting(CLAIMED_AT - timedelta(minutes=30)), sighting(CLAIMED_AT + timedelta(days=1))]
    assert flags.first_seen_before_claim(claim(), sightings) == []
    assert flags.first_seen_before_claim(claim(claimed_at=None), [sighting(datetime(2020, 1, 1, tzinfo=UTC))]) == []


def test_it_runs_every_rule_for_an_item():
    readings = photo(
        sightings=[sighting(datetime(2024, 1, 1, tzinfo=UTC))],
        exif=at(0.0, 0.0) | {"make": None, "model": None, "software": "GIMP 2.10"},
        c2pa={"present": False},
    )
    kinds = sorted(spec.kind for spec in flags.item_flags(claim(), readings))
    assert kinds == ["c2pa", "editing-software", "first-seen-before-claim", "gps-impossible", "metadata-stripped"]


def test_it_survives_readings_of_unexpected_shapes():
    odd = {"exif": {"gps": "50,30", "captured_at": 5, "tags": None}, "image": {"exif_thumbnail": 3}, "c2pa": {}}
    odd["video"] = {"gps": {"latitude": None, "longitude": 1}, "software": 7, "captured_at": ""}
    for kind in ("photo", "video", "other"):
        flags.item_flags(claim(), {"kind": kind, "results": odd, "summary": {}, "sightings": [{"posted_at": "x"}]})


# Flag rows: the pipeline, the services and the selector


with_media = pytest.mark.usefixtures("media_root", "tasks_not_sent")


def exif_photo(*, taken="2024:05:12 10:00:00", offset="+02:00", point=LVIV, software="Adobe Photoshop 25.0", seed=1):
    latitude, longitude = point
    tags = {
        0x010F: "Canon",
        0x0110: "Canon EOS 5D",
        0x0131: software,
        0x8769: {0x9003: taken, 0x9011: offset},
        0x8825: {1: "N", 2: (latitude, 0.0, 0.0), 3: "E", 4: (longitude, 0.0, 0.0)},
    }
    return jpeg_bytes(seed=seed, exif=tags)


def ingest_and_read(case, data, by, name="photo.jpg") -> MediaItem:
    item = intake.ingest_stream(case=case, source=io.BytesIO(data), original_name=name, by=by, origin="test").media_item
    for extraction in item.extractions.all():
        pipeline.run_extraction(extraction.pk)
    return item


def kinds_of(case) -> dict[str, str]:
    return {flag.kind: flag.severity for flag in Flag.objects.filter(case=case)}


def claimed_case(desk, **fields):
    fields = {
        "claimed_at": CLAIMED_AT,
        "claimed_latitude": KYIV[0],
        "claimed_longitude": KYIV[1],
        "claimed_place": "Kyiv",
    } | fields
    return make_case(by=desk, stage="triage", **fields)


@with_media
def test_it_flags_a_photo_as_the_pipeline_reads_it(desk):
    case = claimed_case(desk)
    item = ingest_and_read(case, exif_photo(), desk)
    assert kinds_of(case) == {
        "capture-after-claim": "high",
        "gps-distance": "high",
        "editing-software": "medium",
        "c2pa": "info",
    }
    assert set(Flag.objects.filter(case=case).values_list("media_item", flat=True)) == {item.pk}
    case.refresh_from_db()
    assert case.stage == "in_review"


@with_media
def test_it_flags_a_photo_without_metadata_as_stripped(desk):
    case = claimed_case(desk)
    ingest_and_read(case, jpeg_bytes(seed=3), desk)
    flag = Flag.objects.get(case=case, kind="metadata-stripped")
    assert flag.data["absent"] == ["camera make", "camera model", "capture time", "GPS position"]
    assert kinds_of(case) == {"metadata-stripped": "low", "c2pa": "info"}


@with_media
def test_it_flags_a_re_encoded_video_without_metadata(desk, tmp_path):
    case = claimed_case(desk)
    ingest_and_read(case, mp4_file(tmp_path / "clip.mp4").read_bytes(), desk, name="clip.mp4")
    assert kinds_of(case) == {"metadata-stripped": "low", "editing-software": "low", "c2pa": "info"}


def jpeg_with_thumbnail(size, thumbnail_size) -> bytes:
    """A JPEG whose EXIF block (IFD1) carries a thumbnail of another size, as an editor that kept the old one leaves."""
    thumb = io.BytesIO()
    Image.new("RGB", thumbnail_size, (90, 120, 200)).save(thumb, "JPEG")
    thumbnail = thumb.getvalue()
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<I", 26)
    ifd1 = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x0201, 4, 1, 56)
        + struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
    )
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + struct.pack("<I", 0) + thumbnail
    out = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(out, "JPEG", exif=b"Exif\x00\x00" + tiff)
    return out.getvalue()


@with_media
def test_it_flags_a_cropped_photo_that_kept_its_old_thumbnail(desk):
    case = claimed_case(desk)
    item = ingest_and_read(case, jpeg_with_thumbnail((120, 120), (80, 45)), desk)
    thumbnail = item.extractions.get(extractor="image").result["exif_thumbnail"]
    assert (thumbnail["width"], thumbnail["height"]) == (80, 45)
    flag = Flag.objects.get(case=case, kind="thumbnail-differs")
    assert (flag.severity, flag.data["shape"]) == ("medium", "different")


@with_media
def test_it_recomputes_the_flags_when_the_claimed_time_changes(desk):
    case = claimed_case(desk)
    ingest_and_read(case, exif_photo(), desk)
    services.update_case(case=case, by=desk, changes={"claimed_at": datetime(2024, 5, 12, 8, 0, tzinfo=UTC)})
    assert "capture-after-claim" not in kinds_of(case)
    services.update_case(case=case, by=desk, changes={"claimed_at": datetime(2026, 1, 1, tzinfo=UTC)})
    assert kinds_of(case)["capture-long-before-claim"] == "high"


@with_media
def test_it_recomputes_the_distance_when_the_claimed_place_changes(desk):
    case = claimed_case(desk)
    ingest_and_read(case, exif_photo(), desk)
    services.update_case(
        case=case, by=desk, changes={"claimed_place": "Lviv", "claimed_latitude": LVIV[0], "claimed_longitude": LVIV[1]}
    )
    flag = Flag.objects.get(case=case, kind="gps-distance")
    assert (flag.severity, flag.data["distance_km"]) == ("info", 0.0)
    assert "from the claimed place, Lviv" in flag.message


@with_media
def test_it_leaves_other_writers_seen_before_flags_alone(desk):
    case = claimed_case(desk)
    item = ingest_and_read(case, exif_photo(), desk)
    seen = Flag.objects.create(case=case, media_item=item, kind="seen-before", severity="high", message="Seen in #1.")
    stale = Flag.objects.create(case=case, media_item=item, kind="gps-distance", severity="low", message="Stale.")
    flags.recompute_flags(case)
    assert Flag.objects.filter(pk=seen.pk).exists()
    assert not Flag.objects.filter(pk=stale.pk).exists()
    assert Flag.objects.filter(case=case, kind="gps-distance").count() == 1


@with_media
def test_it_flags_a_file_first_seen_before_the_claimed_time_as_sightings_change(desk):
    case = claimed_case(desk)
    item = ingest_and_read(case, exif_photo(taken="2024:05:10 13:30:00"), desk)
    assert "first-seen-before-claim" not in kinds_of(case)
    posted = services.add_sighting(
        case=case,
        by=desk,
        media_item=item,
        platform="telegram",
        account="@old",
        posted_at=datetime(2023, 1, 2, tzinfo=UTC),
    )
    flag = Flag.objects.get(case=case, kind="first-seen-before-claim")
    assert (flag.media_item, flag.severity, flag.data["account"]) == (item, "high", "@old")
    services.update_sighting(sighting=posted, by=desk, changes={"posted_at": datetime(2024, 5, 11, tzinfo=UTC)})
    assert not Flag.objects.filter(case=case, kind="first-seen-before-claim").exists()


@with_media
def test_it_flags_the_case_when_the_claim_itself_was_posted_before_the_claimed_time(desk):
    case = claimed_case(desk)
    services.add_sighting(
        case=case, by=desk, platform="x", account="@early", posted_at=datetime(2024, 4, 1, tzinfo=UTC)
    )
    flag = Flag.objects.get(case=case, kind="first-seen-before-claim")
    assert flag.media_item is None
    assert flag.message.startswith(
        "The case's earliest sighting was posted 39 days before the claimed time: X (Twitter)"
    )


@with_media
def test_it_lists_a_cases_flags_most_severe_first(desk):
    case = claimed_case(desk)
    ingest_and_read(case, exif_photo(), desk)
    services.add_sighting(
        case=case, by=desk, platform="x", account="@early", posted_at=datetime(2024, 4, 1, tzinfo=UTC)
    )
    listed = [(flag.severity, flag.kind, flag.media_item_id is None) for flag in flags.case_flags(case)]
    assert listed == [
        ("high", "first-seen-before-claim", True),
        ("high", "capture-after-claim", False),
        ("high", "gps-distance", False),
        ("medium", "editing-software", False),
        ("info", "c2pa", False),
    ]


# The shared corpus


@with_media
def test_it_flags_the_galaxy_s_photo_at_zero_zero_as_impossible_gps(desk, corpus):
    case = claimed_case(desk)
    item = intake.ingest_path(case=case, path=corpus / "photos" / "Samsung GT-I9000 (Galaxy S).jpg", by=desk).media_item
    for extraction in item.extractions.all():
        pipeline.run_extraction(extraction.pk)
    kinds = kinds_of(case)
    assert kinds["gps-impossible"] == "low"
    assert "gps-distance" not in kinds
    assert "editing-software" not in kinds  # "fw 05.15 prm 07.53" is the phone's firmware


@with_media
def test_it_flags_the_flir_photo_far_from_los_angeles_and_points_at_the_flipped_sign(desk, corpus):
    case = claimed_case(
        desk,
        claimed_place="Los Angeles",
        claimed_latitude=LOS_ANGELES[0],
        claimed_longitude=LOS_ANGELES[1],
        claimed_at=datetime(2021, 5, 16, 20, 0, tzinfo=UTC),
    )
    item = intake.ingest_path(case=case, path=corpus / "photos" / "FLIR iPhone device.jpg", by=desk).media_item
    for extraction in item.extractions.all():
        pipeline.run_extraction(extraction.pk)
    flag = Flag.objects.get(case=case, kind="gps-distance")
    assert flag.severity == "high"
    assert flag.data["distance_km"] > 10_000
    assert flag.data["mirrored"] == "longitude"
    assert "capture-after-claim" not in kinds_of(case)  # 12:27 -07:00 is 19:27 UTC, before the claimed 20:00


def test_it_recomputes_only_the_changed_files_flags_after_a_reading(desk):
    from tests.factories import add_media

    case = make_case(by=desk, stage="triage")
    changed, other = (add_media(case, name=n, kind=MediaItem.Kind.PHOTO) for n in ("a.jpg", "b.jpg"))
    kept = Flag.objects.create(case=case, media_item=other, kind=flags.EDITING_SOFTWARE, severity="low", message="kept")

    flags.recompute_flags_for_item(changed)

    assert Flag.objects.filter(pk=kept.pk).exists()
    flags.recompute_flags(case)
    assert not Flag.objects.filter(pk=kept.pk).exists()
