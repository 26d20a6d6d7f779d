"""The video timeline extractor: samples, bars, mirrored hashes, and videos a clip cannot be placed in."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from tests.clips import footage
from tests.extractors.helpers import attempt_all, broken_files, is_readable_sentence, problems_in
from workers.extractors import video_timeline
from workers.extractors.base import ExtractionFailed, Unsupported


def read(path: Path, tmp_path: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    out = tmp_path / f"{path.stem}-artifacts"
    out.mkdir()
    result = video_timeline.extract(path, out)
    return (result, *video_timeline.read_timeline(out / video_timeline.TIMELINE_FILE))


def test_it_hashes_each_sample_as_imagehash_phash_does():
    pictures = np.random.default_rng(3).integers(0, 256, (6, 32, 32), dtype=np.uint8)
    expected = [int(str(imagehash.phash(Image.fromarray(picture))), 16) for picture in pictures]
    assert video_timeline.phash_many(pictures).tolist() == expected


def test_it_samples_eight_frames_a_second(tmp_path):
    path = footage.generated(tmp_path / "life.mp4", footage.LIFE.format(seed=1), seconds=5)
    result, hashes, mirrored = read(path, tmp_path)
    assert result["samples"] == len(hashes) == len(mirrored) == 40
    assert (result["duration"], result["unusable_samples"], result["unplaceable_reason"]) == (5.0, [], None)
    assert result["artifacts"] == [video_timeline.TIMELINE_FILE]


def test_it_hashes_a_letterboxed_copy_as_the_picture_inside_the_bars(tmp_path):
    original = footage.generated(tmp_path / "life.mp4", footage.LIFE.format(seed=2), seconds=3)
    boxed = footage.cut(original, tmp_path / "boxed.mp4", start=0, seconds=3, change="pad=320:400:0:80", crf=18)
    _, plain, _ = read(original, tmp_path)
    result, inside, _ = read(boxed, tmp_path)
    assert result["trimmed_samples"] == result["samples"]
    assert np.median(np.bitwise_count(plain ^ inside)) <= 6


def test_it_keeps_the_mirrored_hash_of_each_sample(tmp_path):
    original = footage.generated(tmp_path / "life.mp4", footage.LIFE.format(seed=3), seconds=3)
    flipped = footage.cut(original, tmp_path / "flipped.mp4", start=0, seconds=3, change=footage.MIRRORED, crf=18)
    _, plain, plain_mirrored = read(original, tmp_path)
    _, _, flipped_mirrored = read(flipped, tmp_path)
    assert np.median(np.bitwise_count(plain ^ flipped_mirrored)) <= 6
    assert np.median(np.bitwise_count(plain ^ plain_mirrored)) > 12


def test_it_says_a_black_video_has_nothing_to_place(tmp_path):
    path = footage.generated(tmp_path / "black.mp4", "color=c=black:size=320x240:rate=25", seconds=4)
    result, _, _ = read(path, tmp_path)
    assert result["unusable_samples"] == list(range(32))
    assert result["unplaceable_reason"].startswith("Only 0 s of the video's 4 s have picture detail enough")


def test_it_says_a_still_picture_cannot_be_placed(tmp_path):
    path = footage.generated(tmp_path / "bars.mp4", "smptebars=size=320x240:rate=25", seconds=6)
    result, _, _ = read(path, tmp_path)
    assert result["unusable_samples"] == []
    assert result["unplaceable_reason"].startswith(
        "The picture hardly changes over the video's 6 s (1 distinct picture)"
    )


def test_it_fails_on_a_video_stream_without_a_keyframe(tmp_path):
    path = footage.without_keyframes(tmp_path / "no-keyframes.h264")
    with pytest.raises(ExtractionFailed, match=r"The video stream has \d+ frames but not one keyframe"):
        video_timeline.extract(path, tmp_path)


def test_it_fails_with_ffprobes_reason_on_a_corrupt_sample_table(tmp_path):
    original = footage.generated(tmp_path / "life.mp4", footage.LIFE.format(seed=4), seconds=2)
    path = footage.with_broken_sample_table(original, tmp_path / "broken.mp4")
    with pytest.raises(ExtractionFailed, match=r"ffprobe could not read the file: .*invalid STSD entries"):
        video_timeline.extract(path, tmp_path)


def test_it_does_not_read_sound_without_picture(tmp_path):
    path = tmp_path / "tone.m4a"
    footage._ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(path))
    with pytest.raises(Unsupported, match="sound but no moving picture"):
        video_timeline.extract(path, tmp_path)


def test_it_gives_a_readable_outcome_for_every_malformed_and_fuzzed_file(corpus, tmp_path):
    def read(path: Path) -> dict:
        out = tmp_path / path.name
        out.mkdir()
        return video_timeline.extract(path, out)

    outcomes = attempt_all(read, broken_files(corpus), readable=is_readable_sentence, threads=2)

    assert not problems_in(outcomes), "\n".join(problems_in(outcomes))
    # Whatever timeline a broken file yields is of pictures that were really decoded.
    assert all(outcome.result["samples"] > 0 for outcome in outcomes if outcome.result)
