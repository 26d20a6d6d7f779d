"""The video extractor on videos made here with ffmpeg, on the shared corpus, and on broken and hostile files."""

import random
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.extractors.helpers import attempt_all, broken_files, is_readable_sentence, problems_in, slowest_of
from workers.extractors import video
from workers.extractors.base import ExtractionFailed, Unsupported

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

CORPUS_VIDEOS = ("video/sample_mpeg4.mp4", "video/with-gps.mov", "video/with-gps.mp4", "c2pa/video1.mp4")


def make_video(path: Path, *args: str) -> Path:
    """A short test-pattern video written by ffmpeg to `path`, with the extra arguments (metadata...)."""
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10"]
    subprocess.run([*command, *args, str(path)], check=True, capture_output=True, timeout=60)
    return path


def tagged(tags: dict[str, str]) -> list[str]:
    """ffmpeg arguments that write each tag into the container's metadata."""
    return [argument for name, value in tags.items() for argument in ("-metadata", f"{name}={value}")]


@pytest.fixture(scope="module")
def android_style_mp4(tmp_path_factory) -> Path:
    tags = {"location": "+51.7304+036.1926/", "creation_time": "2024-11-05T10:00:00Z"}
    return make_video(tmp_path_factory.mktemp("video") / "out.mp4", *tagged(tags))


@pytest.fixture(scope="module")
def iphone_style_mov(tmp_path_factory) -> Path:
    tags = {
        "com.apple.quicktime.location.ISO6709": "+37.3318-122.0312+010.000/",
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 15",
        "com.apple.quicktime.software": "17.1",
        "com.apple.quicktime.creationdate": "2024-11-05T12:00:00+0200",
    }
    return make_video(tmp_path_factory.mktemp("video") / "out.mov", "-movflags", "use_metadata_tags", *tagged(tags))


def read(path: Path) -> dict:
    return video.extract(path, path.parent)


def test_it_reads_container_duration_and_picture_size(android_style_mp4):
    result = read(android_style_mp4)

    assert "mp4" in result["container"]
    assert result["duration"] == pytest.approx(2.0, abs=0.05)
    assert (result["width"], result["height"]) == (320, 240)


def test_it_describes_each_stream(android_style_mp4):
    (stream,) = read(android_style_mp4)["streams"]

    assert stream["type"] == "video"
    assert stream["codec"]
    assert (stream["width"], stream["height"], stream["fps"]) == (320, 240, 10.0)
    assert stream["rotation"] is None


def test_it_reads_gps_from_the_location_tag(android_style_mp4):
    assert read(android_style_mp4)["gps"] == {"latitude": 51.7304, "longitude": 36.1926, "altitude": None}


def test_it_reads_creation_time_in_iso_8601(android_style_mp4):
    result = read(android_style_mp4)

    assert result["created_at"] == "2024-11-05T10:00:00+00:00"
    assert result["captured_at"] == "2024-11-05T10:00:00+00:00"


def test_it_keeps_the_format_tags_and_raw_ffprobe_json(android_style_mp4):
    result = read(android_style_mp4)

    assert result["tags"]["location"] == "+51.7304+036.1926/"
    assert result["encoder"].startswith("Lavf")
    assert result["ffprobe"]["format"]["tags"] == result["tags"]


def test_it_reads_apple_gps_with_altitude(iphone_style_mov):
    assert read(iphone_style_mov)["gps"] == {"latitude": 37.3318, "longitude": -122.0312, "altitude": 10.0}


def test_it_reads_apple_make_model_and_software(iphone_style_mov):
    result = read(iphone_style_mov)

    assert (result["make"], result["model"], result["software"]) == ("Apple", "iPhone 15", "17.1")


def test_it_takes_capture_time_from_apple_creationdate_with_its_offset(iphone_style_mov):
    assert read(iphone_style_mov)["captured_at"] == "2024-11-05T12:00:00+02:00"


def test_it_reads_android_make_model_and_version(tmp_path):
    tags = {"com.android.manufacturer": "Google", "com.android.model": "Pixel 8", "com.android.version": "14"}
    path = make_video(tmp_path / "android.mp4", "-movflags", "use_metadata_tags", *tagged(tags))

    result = read(path)

    assert (result["make"], result["model"], result["software"]) == ("Google", "Pixel 8", "14")


def test_it_has_no_gps_when_the_file_records_none(tmp_path):
    assert read(make_video(tmp_path / "plain.mp4"))["gps"] is None


@pytest.mark.parametrize(
    ("iso6709", "expected"),
    [
        ("+37.3318-122.0312+010.000/", {"latitude": 37.3318, "longitude": -122.0312, "altitude": 10.0}),
        ("-33.8688+151.2093/", {"latitude": -33.8688, "longitude": 151.2093, "altitude": None}),
        ("+3518.30-11810.20/", {"latitude": 35 + 18.30 / 60, "longitude": -(118 + 10.20 / 60), "altitude": None}),
        (
            "+351830.5-1181012+12CRSWGS_84/",
            {"latitude": 35 + 18 / 60 + 30.5 / 3600, "longitude": -(118 + 10 / 60 + 12 / 3600), "altitude": 12.0},
        ),
    ],
)
def test_it_parses_iso_6709_in_degrees_minutes_and_seconds_forms(iso6709, expected):
    assert video.parse_iso6709(iso6709) == pytest.approx(expected)


def test_it_keeps_out_of_range_gps_as_recorded():
    assert video.parse_iso6709("+95.0000+200.0000/") == {"latitude": 95.0, "longitude": 200.0, "altitude": None}


def test_it_gives_no_gps_for_an_unparseable_location():
    assert video.parse_iso6709("somewhere nice") is None


def test_it_fails_readably_on_a_truncated_mp4(android_style_mp4, tmp_path):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(android_style_mp4.read_bytes()[: android_style_mp4.stat().st_size // 2])

    with pytest.raises(
        ExtractionFailed,
        match=r"^ffprobe could not read the file: invalid data found when processing input \(moov atom not found\)\.$",
    ):
        read(truncated)


def test_it_fails_readably_on_random_bytes(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(random.Random(6709).randbytes(64 * 1024))  # seeded: the same noise on every run

    with pytest.raises(ExtractionFailed) as failure:
        read(path)

    assert str(failure.value).startswith("ffprobe could not read the file: ")
    assert str(tmp_path) not in str(failure.value)


def test_it_fails_on_a_container_without_video_or_audio(tmp_path):
    subtitles = tmp_path / "subtitles.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n", encoding="utf-8")
    container = tmp_path / "subtitles.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(subtitles), str(container)], check=True, timeout=60)

    with pytest.raises(ExtractionFailed, match=r"^The file has no video or audio stream: .*1 stream \(subtitle\)"):
        read(container)


def test_it_refuses_a_still_image(tmp_path):
    still = tmp_path / "frame.jpg"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(still)],
        check=True,
        timeout=60,
    )

    with pytest.raises(Unsupported, match="still image"):
        read(still)


def test_it_gives_up_when_ffprobe_takes_too_long(android_style_mp4, monkeypatch):
    monkeypatch.setattr(video, "FFPROBE_TIMEOUT_S", 0.001)

    with pytest.raises(ExtractionFailed, match=r"^ffprobe gave up after 0\.001 s"):
        read(android_style_mp4)


def test_it_says_ffmpeg_must_be_installed_when_ffprobe_is_missing(android_style_mp4, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ExtractionFailed, match="ffmpeg must be installed"):
        read(android_style_mp4)


# The shared corpus, against ExifTool's readings in expected-exiftool.json.


def test_it_agrees_with_exiftool_on_duration(corpus, corpus_expected):
    # ffprobe prints durations in microseconds; ExifTool's are exact fractions.
    for name in CORPUS_VIDEOS:
        assert read(corpus / name)["duration"] == pytest.approx(corpus_expected[name]["duration_s"], abs=1e-6), name


def test_it_agrees_with_exiftool_on_picture_size(corpus, corpus_expected):
    for name in CORPUS_VIDEOS:
        result, expected = read(corpus / name), corpus_expected[name]
        assert (result["width"], result["height"]) == (expected["width"], expected["height"]), name


def test_it_agrees_with_exiftool_on_make_and_model(corpus, corpus_expected):
    for name in CORPUS_VIDEOS:
        result, expected = read(corpus / name), corpus_expected[name]
        assert (result["make"], result["model"]) == (expected["make"], expected["model"]), name


def test_it_agrees_with_exiftool_on_software_where_exiftool_reads_one(corpus, corpus_expected):
    for name in CORPUS_VIDEOS:
        if corpus_expected[name]["software"] is not None:
            assert read(corpus / name)["software"] == str(corpus_expected[name]["software"]), name


def test_it_agrees_with_exiftool_on_capture_time(corpus, corpus_expected):
    for name in CORPUS_VIDEOS:
        expected = exiftool_time(corpus_expected[name]["captured"])
        assert read(corpus / name)["captured_at"] == expected.isoformat(), name


def test_it_agrees_with_exiftool_on_gps(corpus, corpus_expected):
    for name in CORPUS_VIDEOS:
        gps, expected = read(corpus / name)["gps"], corpus_expected[name]
        if expected["gps_lat"] is None:
            assert gps is None, name
        else:
            assert gps["latitude"] == pytest.approx(expected["gps_lat"], abs=1e-4), name
            assert gps["longitude"] == pytest.approx(expected["gps_lon"], abs=1e-4), name


def exiftool_time(text: str) -> datetime:
    """ExifTool's "2019:07:24 11:25:40+03:00"; QuickTime times without an offset are UTC by the format's definition."""
    if len(text) > len("2019:07:24 11:25:40"):
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S%z")
    return datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)


# Broken and hostile files: only Unsupported or ExtractionFailed, in readable sentences, quickly.


def test_it_survives_every_malformed_and_fuzzed_file(corpus):
    outcomes = attempt_all(read, broken_files(corpus), readable=is_readable_sentence, threads=4)

    problems, slowest = problems_in(outcomes), slowest_of(outcomes)
    assert not problems, "\n".join(problems)
    assert slowest.seconds < video.FFPROBE_TIMEOUT_S / 3, f"{slowest.path.name} took {slowest.seconds:.1f} s"
