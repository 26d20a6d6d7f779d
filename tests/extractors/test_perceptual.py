"""The perceptual extractor: pHash of photos and video keyframes, on generated files and the shared corpus."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.extractors.helpers import broken_files, make_scene, png_declaring, survive_all
from workers.extractors import base, perceptual

NEAR = 8  # bits of 64: copies of one picture stay within this
FAR = 20  # unrelated pictures differ in about half the bits


def extract_image(tmp_path: Path, image: Image.Image, name: str, **save_options) -> dict:
    path = tmp_path / name
    image.save(path, **save_options)
    artifacts = tmp_path / f"{name}-artifacts"
    artifacts.mkdir()
    return perceptual.extract(path, artifacts)


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return make_scene(seed=1)


@pytest.fixture
def original(tmp_path, scene) -> dict:
    return extract_image(tmp_path, scene, "original.jpg", quality=95)


def test_it_hashes_a_photo_and_writes_a_thumbnail(tmp_path, scene):
    result = extract_image(tmp_path, scene, "photo.jpg", quality=95)

    assert result["algorithm"] == "phash-64"
    assert len(result["hash"]) == 16 and int(result["hash"], 16) >= 0
    assert (result["quality"], result["low_quality_reason"]) == ("ok", None)
    assert (result["width"], result["height"]) == (640, 480)
    assert result["artifacts"] == ["thumb.jpg"]
    with Image.open(tmp_path / "photo.jpg-artifacts" / "thumb.jpg") as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= perceptual.THUMBNAIL_SIZE


def test_it_keeps_a_recompressed_copy_near_the_original(tmp_path, scene, original):
    copy = extract_image(tmp_path, scene, "q50.jpg", quality=50)

    assert perceptual.hamming_distance(original["hash"], copy["hash"]) <= NEAR


def test_it_keeps_a_half_size_copy_near_the_original(tmp_path, scene, original):
    half = scene.resize((scene.width // 2, scene.height // 2), Image.Resampling.LANCZOS)
    copy = extract_image(tmp_path, half, "half.jpg", quality=90)

    assert perceptual.hamming_distance(original["hash"], copy["hash"]) <= NEAR


def test_it_keeps_a_slightly_cropped_copy_near_the_original(tmp_path, scene, original):
    cropped = scene.crop((16, 12, scene.width - 16, scene.height - 12))  # 5% off each dimension
    copy = extract_image(tmp_path, cropped, "crop.jpg", quality=90)

    assert perceptual.hamming_distance(original["hash"], copy["hash"]) <= NEAR


def test_it_keeps_an_unrelated_photo_far_from_the_original(tmp_path, original):
    other = extract_image(tmp_path, make_scene(seed=2), "other.jpg", quality=90)

    assert perceptual.hamming_distance(original["hash"], other["hash"]) >= FAR


def test_it_hashes_an_exif_rotated_copy_like_the_upright_photo(tmp_path, scene, original):
    stored = scene.transpose(Image.Transpose.ROTATE_90)  # what a phone held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"

    rotated = extract_image(tmp_path, stored, "rotated.jpg", quality=95, exif=exif.tobytes())
    unturned = extract_image(tmp_path, stored, "unturned.jpg", quality=95)

    assert perceptual.hamming_distance(original["hash"], rotated["hash"]) <= 2
    assert (rotated["width"], rotated["height"]) == (640, 480)
    assert perceptual.hamming_distance(original["hash"], unturned["hash"]) >= FAR


def test_it_marks_a_single_colour_image_as_low_quality(tmp_path):
    result = extract_image(tmp_path, Image.new("RGB", (400, 300), (30, 90, 200)), "blue.png")

    assert result["quality"] == "low"
    assert result["low_quality_reason"] == perceptual.LOW_QUALITY_REASON


def test_it_marks_a_nearly_uniform_image_as_low_quality(tmp_path):
    rng = np.random.default_rng(3)
    grey = (128 + rng.normal(0, 1.5, (300, 400))).clip(0, 255).astype(np.uint8)

    result = extract_image(tmp_path, Image.fromarray(grey), "grey.jpg", quality=90)

    assert result["quality"] == "low"


def test_it_flattens_transparency_before_hashing(tmp_path, scene):
    rgba = scene.convert("RGBA")
    rgba.putalpha(255)

    result = extract_image(tmp_path, rgba, "scene.png")

    assert result["quality"] == "ok" and len(result["hash"]) == 16


def test_it_hashes_a_picture_over_25_megapixels_from_a_reduced_copy_turned_upright(tmp_path, scene, original):
    # 30.7 megapixels of RGBA, stored sideways: too large to flatten and hash whole within the memory ceiling.
    stored = scene.transpose(Image.Transpose.ROTATE_90).resize((4800, 6400)).convert("RGBA")
    exif = Image.Exif()
    exif[0x0112] = 6

    result = extract_image(tmp_path, stored, "large.png", exif=exif.tobytes(), compress_level=1)

    assert (result["width"], result["height"]) == (6400, 4800)
    assert perceptual.hamming_distance(original["hash"], result["hash"]) <= 2


def test_it_refuses_an_image_above_its_pixel_limit(tmp_path):
    path = tmp_path / "large.png"
    path.write_bytes(png_declaring(12_000, 10_000))

    with pytest.raises(base.ExtractionFailed, match="120.0 megapixels .12,000 x 10,000., over the 50-megapixel"):
        perceptual.extract(path, tmp_path)


def test_it_refuses_a_decompression_bomb(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(100_000, 100_000))

    with pytest.raises(base.ExtractionFailed, match="10000.0 megapixels .100,000 x 100,000., over the 50-megapixel"):
        perceptual.extract(path, tmp_path)


def test_it_fails_with_a_reason_on_a_truncated_jpeg(tmp_path, scene):
    whole = tmp_path / "whole.jpg"
    scene.save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(base.ExtractionFailed, match="truncated"):
        perceptual.extract(cut, tmp_path)


def test_it_takes_hashed_keyframes_from_a_video(tmp_path):
    video = tmp_path / "testsrc.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=25"]
        + ["-c:v", "mpeg4", "-g", "25", str(video)],
        check=True,
        timeout=60,
    )
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()

    result = perceptual.extract(video, artifacts)

    keyframes = result["keyframes"]
    assert result["algorithm"] == "phash-64"
    assert 2 <= len(keyframes) <= perceptual.MAX_KEYFRAMES
    assert result["artifacts"] == [frame["file"] for frame in keyframes]
    for frame in keyframes:
        assert (artifacts / frame["file"]).stat().st_size > 0
        assert len(frame["hash"]) == 16 and frame["quality"] in ("ok", "low")
    times = [frame["time"] for frame in keyframes]
    assert times == sorted(times) and 0 <= times[0] < times[-1] <= 3
    with Image.open(artifacts / keyframes[0]["file"]) as first:
        assert first.width <= perceptual.KEYFRAME_WIDTH


def test_it_fails_on_random_bytes_named_like_a_video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(np.random.default_rng(4).bytes(64 * 1024))

    with pytest.raises(base.ExtractionFailed, match="No keyframes could be decoded from the video"):
        perceptual.extract(path, tmp_path)


def test_it_reads_every_real_photo_and_video_in_the_corpus(corpus, tmp_path):
    files = sorted(f for folder in ("photos", "video", "c2pa") for f in (corpus / folder).iterdir())

    for number, path in enumerate(files):
        artifacts = tmp_path / str(number)
        artifacts.mkdir()
        result = perceptual.extract(path, artifacts)
        assert result["artifacts"], path.name
        assert all((artifacts / name).is_file() for name in result["artifacts"]), path.name


def test_it_survives_malformed_and_fuzzed_files(corpus, tmp_path):
    files = [path for path in broken_files(corpus) if path.name != "README"]
    slowest = survive_all(perceptual.extract, files, tmp_path, corpus)

    print(f"perceptual: slowest of {len(files)} files: {slowest.path.name} in {slowest.seconds:.2f} s")
