"""The exiftool reader: ExifTool's whole reading kept, the desk's fields picked out, broken files as sentences."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.extractors.helpers import attempt_all, broken_files, is_sentence, problems_in
from tests.media import jpeg_bytes
from workers.extractors import base, exiftool, extractors_for

pytestmark = pytest.mark.skipif(not exiftool.available(), reason="exiftool is not installed")


def written(path: Path, *args: str) -> Path:
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(path)], check=True, timeout=60)  # noqa: S603, S607
    return path


def test_it_reads_make_model_capture_time_with_zone_and_gps(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes())
    written(
        path,
        "-Make=NIKON CORPORATION",
        "-Model=NIKON D5000",
        "-DateTimeOriginal=2022:01:02 03:04:05",
        "-OffsetTimeOriginal=+05:30",
        "-GPSLatitude=12.5",
        "-GPSLatitudeRef=S",
        "-GPSLongitude=77.25",
        "-GPSLongitudeRef=W",
    )

    result = exiftool.extract(path, tmp_path)

    assert (result["make"], result["model"]) == ("NIKON CORPORATION", "NIKON D5000")
    assert (result["captured_at"], result["captured_at_source"]) == (
        "2022-01-02T03:04:05+05:30",
        "Composite:SubSecDateTimeOriginal",
    )
    assert (result["gps"]["latitude"], result["gps"]["longitude"]) == (-12.5, -77.25)


def test_it_keeps_every_tag_it_read_but_not_the_files_place_on_disk(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes())
    written(path, "-Artist=Desk test", "-XMP-dc:Description=A harbour")

    tags = exiftool.extract(path, tmp_path)["tags"]

    assert tags["IFD0:Artist"] == "Desk test"
    assert tags["XMP-dc:Description"] == "A harbour"
    assert tags["File:MIMEType"] == "image/jpeg"
    assert not [name for name in tags if name.startswith(("System:", "SourceFile"))]


def test_it_takes_the_movie_headers_time_as_utc(tmp_path):
    path = tmp_path / "clip.mp4"
    subprocess.run(  # noqa: S603
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:duration=0.4", str(path)],  # noqa: S607
        check=True,
        timeout=60,
    )
    written(path, "-QuickTime:CreateDate=2020:02:03 04:05:06")

    assert exiftool.extract(path, tmp_path)["captured_at"] == "2020-02-03T04:05:06+00:00"


def test_it_reads_a_time_kept_only_in_maker_notes():
    tags = {"IFD0:Make": "SONY", "Sony:SonyDateTime": "2018:06:07 08:09:10", "QuickTime:CreateDate": "0000:00:00"}
    assert exiftool.capture_time(tags) == ("2018-06-07T08:09:10", "Sony:SonyDateTime")


def test_it_skips_zero_dates():
    assert exiftool.capture_time({"ExifIFD:DateTimeOriginal": "0000:00:00 00:00:00"}) == (None, None)


def test_it_says_what_a_file_it_cannot_read_is(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"just some words, not a picture")
    with pytest.raises(base.Unsupported, match=r"^ExifTool reads this file as text \(.+\), not a photo or video\.$"):
        exiftool.extract(path, tmp_path)


def test_it_runs_for_photos_and_videos_where_installed():
    assert "exiftool" in [module.NAME for module in extractors_for("photo")]
    assert "exiftool" in [module.NAME for module in extractors_for("video")]


def test_it_turns_malformed_and_fuzzed_files_into_a_readable_outcome(corpus, tmp_path):
    # Every third file: each costs a Perl start, and the exif extractor's tests read them all.
    outcomes = attempt_all(
        lambda path: exiftool.extract(path, tmp_path), broken_files(corpus)[::3], readable=is_sentence, threads=2
    )
    assert not problems_in(outcomes, seconds=exiftool.EXIFTOOL_TIMEOUT_S)
