"""Placing a clip in archived videos, over timelines read from ffmpeg-generated footage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clips import footage
from verify.clips.matching import ArchiveTimelines, Timeline, place_clip
from workers.extractors import video_timeline

RATE = video_timeline.SAMPLES_PER_SECOND
CUT_AT, CLIP_SECONDS = 17.3, 10
# Samples are 1/8 s apart, so a cut anywhere is within 1/16 s of one; two samples' worth is the tolerance.
OFFSET_TOLERANCE = 2 / RATE
ARCHIVED, UNRELATED, ZOOM = 1, 2, 3


def timeline(path: Path, key: int) -> Timeline:
    out = path.with_suffix(".timeline")
    out.mkdir()
    result = video_timeline.extract(path, out)
    return Timeline.from_reading(key, result, out)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("footage")


@pytest.fixture(scope="module")
def archived(folder) -> Path:
    return footage.generated(folder / "archived.mp4", footage.LIFE.format(seed=7), seconds=40)


@pytest.fixture(scope="module")
def archive(folder, archived) -> ArchiveTimelines:
    unrelated = footage.generated(folder / "unrelated.mp4", footage.LIFE.format(seed=8), seconds=40)
    zoom = footage.generated(folder / "zoom.mp4", footage.MANDELBROT, seconds=30)
    return ArchiveTimelines([timeline(archived, ARCHIVED), timeline(unrelated, UNRELATED), timeline(zoom, ZOOM)])


@pytest.mark.parametrize(
    ("change", "mirrored"),
    [
        (footage.RE_ENCODED, False),
        (footage.RESIZED, False),
        (footage.LETTERBOXED, False),
        (footage.MIRRORED, True),
        (f"{footage.MIRRORED},{footage.LETTERBOXED}", True),
    ],
    ids=["re-encoded", "resized", "letterboxed", "mirrored", "mirrored-and-letterboxed"],
)
def test_it_places_a_changed_clip_in_the_video_it_was_cut_from(folder, archived, archive, change, mirrored):
    name = change.replace(",", "-").replace(":", "x").replace("=", "")
    clip = footage.cut(archived, folder / f"clip-{name}.mp4", start=CUT_AT, seconds=CLIP_SECONDS, change=change)

    (place,) = place_clip(timeline(clip, 99), archive, samples_per_second=RATE)

    assert (place.key, place.mirrored) == (ARCHIVED, mirrored)
    assert abs(place.start - CUT_AT) <= OFFSET_TOLERANCE
    assert abs(place.end - (CUT_AT + CLIP_SECONDS)) <= OFFSET_TOLERANCE
    assert place.samples_compared == CLIP_SECONDS * RATE


def test_it_places_nothing_for_a_video_not_in_the_archive(folder, archive):
    other = footage.generated(folder / "other.mp4", footage.LIFE.format(seed=9), seconds=12)
    assert place_clip(timeline(other, 99), archive, samples_per_second=RATE) == []


def test_it_places_nothing_for_a_clip_that_only_shares_a_few_frames(folder, archived, archive):
    # Two seconds of the archived video followed by eight of an unrelated one.
    start = footage.cut(archived, folder / "start.mp4", start=CUT_AT, seconds=2)
    rest = footage.generated(folder / "rest.mp4", footage.LIFE.format(seed=10), seconds=8)
    spliced = folder / "spliced.mp4"
    footage._ffmpeg("-i", str(start), "-i", str(rest), "-filter_complex", "concat=n=2:v=1", str(spliced))

    assert place_clip(timeline(spliced, 99), archive, samples_per_second=RATE) == []


def test_it_places_nothing_in_an_empty_archive(folder, archived):
    clip = footage.cut(archived, folder / "lonely.mp4", start=CUT_AT, seconds=CLIP_SECONDS)
    assert place_clip(timeline(clip, 99), ArchiveTimelines([]), samples_per_second=RATE) == []
