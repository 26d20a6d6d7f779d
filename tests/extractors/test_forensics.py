"""The forensics extractor: error level analysis and JPEG recompression signals, on generated files and the corpus."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageStat

from tests.extractors.helpers import broken_files, make_scene, png_declaring, survive_all
from workers.extractors import base, forensics, jpeg_tables


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return make_scene(seed=5)


def save(tmp_path: Path, image: Image.Image, name: str, **options) -> Path:
    path = tmp_path / name
    image.save(path, **options)
    return path


def run(path: Path) -> tuple[dict, Path]:
    artifacts = path.parent / f"{path.name}-artifacts"
    artifacts.mkdir()
    return forensics.extract(path, artifacts), artifacts


def resaved(image: Image.Image, *qualities: int) -> Image.Image:
    """The image after being saved as JPEG at each quality in turn."""
    for quality in qualities:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        buffer.seek(0)
        image = Image.open(buffer)
        image.load()
    return image


def test_it_writes_an_error_level_image(tmp_path, scene):
    result, artifacts = run(save(tmp_path, scene, "scene.jpg", quality=85))

    assert result["artifacts"] == ["ela.png"]
    assert (artifacts / "ela.png").stat().st_size > 0
    with Image.open(artifacts / "ela.png") as ela:
        assert ela.format == "PNG" and ela.size == scene.size
    assert result["ela"]["file"] == "ela.png" and result["ela"]["quality"] == 90
    assert 0 < result["ela"]["mean_difference"] <= result["ela"]["max_difference"] <= 255
    assert 1 <= result["ela"]["scale"] <= forensics.ELA_MAX_SCALE
    assert "not verdicts" in result["caveat"]


def test_it_turns_the_error_level_image_upright(tmp_path, scene):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, shown rotated 90 degrees clockwise

    result, artifacts = run(save(tmp_path, scene, "sideways.jpg", quality=90, exif=exif.tobytes()))

    with Image.open(artifacts / "ela.png") as ela:
        assert ela.size == (scene.height, scene.width)


def test_it_scales_down_a_photo_above_the_ela_cap(tmp_path, scene, monkeypatch):
    monkeypatch.setattr(forensics, "ELA_MAX_PIXELS", 40_000)
    monkeypatch.setattr(forensics, "ELA_SCALED_PIXELS", 20_000)

    result, artifacts = run(save(tmp_path, scene, "scene.png"))

    with Image.open(artifacts / "ela.png") as ela:
        assert ela.width * ela.height <= 20_000
    assert any("scaled to" in note for note in result["notes"])


def sideways_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


def ela_figures_at_full_size(path: Path) -> dict:
    """The ELA figures as version 2 computed them: ImageChops.difference of the whole photo and its
    re-save, ImageStat over the full-size difference."""
    with Image.open(path) as photo:
        rgb = photo.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=forensics.ELA_QUALITY)
    difference = ImageChops.difference(rgb, Image.open(buffer))
    counts = np.array(difference.histogram()).reshape(-1, 256).sum(axis=0)
    bright = int(np.searchsorted(np.cumsum(counts), counts.sum() * 0.995))
    return {
        "file": "ela.png",
        "quality": forensics.ELA_QUALITY,
        "max_difference": max(high for _, high in difference.getextrema()),
        "mean_difference": round(sum(ImageStat.Stat(difference).mean) / 3, 2),
        "scale": round(min(255 / max(bright, 1), forensics.ELA_MAX_SCALE), 2),
    }


@pytest.mark.parametrize(
    ("name", "size", "options"),
    [
        ("12mp.jpg", (4000, 3000), {"quality": 85}),
        ("small.jpg", (640, 480), {"quality": 75}),
        ("sideways.jpg", (1600, 1200), {"quality": 92, "exif": sideways_exif()}),
        ("flat.png", (2000, 1500), {}),
    ],
)
def test_its_figures_are_those_of_the_full_size_difference(tmp_path, name, size, options):
    path = save(tmp_path, scene_of_size(size), name, **options)

    result, artifacts = run(path)

    assert result["ela"] == ela_figures_at_full_size(path)
    width, height = preview_size(size)
    with Image.open(artifacts / "ela.png") as ela:
        assert ela.size == ((height, width) if "exif" in options else (width, height))


def scene_of_size(size: tuple[int, int]) -> Image.Image:
    return make_scene(seed=11, size=(640, 480)).resize(size, Image.Resampling.BILINEAR)


def preview_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    if max(size) <= forensics.ELA_IMAGE_SIZE:
        return size
    ratio = forensics.ELA_IMAGE_SIZE / max(width, height)
    return round(width * ratio), round(height * ratio)


def ela_png_as_version_3(path: Path) -> bytes:
    """ela.png as version 3 made it: Pillow's decode, re-save and ImageChops.difference at full size, reduced and
    brightened by thumbnail() and point(), turned upright."""
    with Image.open(path) as photo:
        photo.load()
        turn = forensics.UPRIGHT.get(forensics.orientation(photo))
        rgb = forensics.rgb_within(photo, forensics.ELA_MAX_PIXELS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=forensics.ELA_QUALITY)
    difference = ImageChops.difference(rgb, Image.open(buffer))
    counts = np.array(difference.histogram()).reshape(-1, 256).sum(axis=0)
    bright = int(np.searchsorted(np.cumsum(counts), counts.sum() * 0.995))
    scale = min(255 / max(bright, 1), forensics.ELA_MAX_SCALE)
    difference.thumbnail((forensics.ELA_IMAGE_SIZE,) * 2, Image.Resampling.LANCZOS, reducing_gap=1.0)
    visible = difference.point([min(255, round(value * scale)) for value in range(256)] * 3)  # keeps its ICC profile
    visible = visible.transpose(turn) if turn is not None else visible
    out = io.BytesIO()
    visible.save(out, "PNG", compress_level=1)
    return out.getvalue()


def photos_to_compare(corpus: Path, tmp_path: Path) -> list[Path]:
    """The corpus photos and a generated 12-megapixel JPEG, re-saved once at a lower quality."""
    twelve = scene_of_size((4000, 3000))
    generated = save(tmp_path, resaved(twelve, 70), "12mp-twice.jpg", quality=88)
    return [*sorted((corpus / "photos").iterdir()), generated]


def test_its_error_level_image_is_byte_for_byte_that_of_version_3(corpus, tmp_path):
    for path in photos_to_compare(corpus, tmp_path):
        result, artifacts = run(copy_of(path, tmp_path / "copies") if path.parent != tmp_path else path)

        assert (artifacts / "ela.png").read_bytes() == ela_png_as_version_3(path), path.name


def test_its_luminance_from_the_ela_decode_reads_as_a_decode_of_the_y_channel(corpus, tmp_path):
    """Version 4 reads the double-compression signals from Y rounded back from the RGB decode; version 3 decoded the
    Y channel. Over the corpus and a 12-megapixel JPEG saved twice, only one count moves, and no hint."""
    moved = {}
    for path in photos_to_compare(corpus, tmp_path):
        if path.suffix.lower() != ".jpg":
            continue
        result, _ = run(copy_of(path, tmp_path / "copies") if path.parent != tmp_path else path)
        with Image.open(path) as photo:
            tables = {slot: list(table) for slot, table in photo.quantization.items()}
        combed, analysed = forensics._double_compression(path, tables[min(tables)])  # Y decoded on its own
        recompression = result["recompression"]
        assert recompression["analysed_frequencies"] == analysed, path.name
        assert recompression["double_compression_hint"] == (None if analysed < 3 else combed * 3 >= analysed * 2)
        if recompression["combed_frequencies"] != combed:
            moved[path.name] = (recompression["combed_frequencies"], combed)

    assert moved == {"DSCN0027.jpg": (1, 2)}


def test_it_recognises_standard_tables_at_quality_75(tmp_path, scene):
    result, _ = run(save(tmp_path, scene, "q75.jpg", quality=75))

    recompression = result["recompression"]
    assert recompression["standard_tables"] is True
    assert recompression["estimated_quality"] == 75
    assert any("standard libjpeg tables at quality 75" in note for note in recompression["notes"])


def test_it_estimates_quality_from_the_tables_alone():
    tables = {
        0: jpeg_tables.ijg_table(jpeg_tables.IJG_LUMINANCE, 40),
        1: jpeg_tables.ijg_table(jpeg_tables.IJG_CHROMINANCE, 40),
    }

    assert forensics.estimate_quality(tables) == (40, True)


def test_it_calls_camera_tables_custom(corpus, tmp_path):
    result, _ = run(copy_of(corpus / "photos" / "Canon EOS 1000D.jpg", tmp_path))

    assert result["recompression"]["standard_tables"] is False
    assert 90 <= result["recompression"]["estimated_quality"] <= 100


def test_it_hints_at_double_compression_when_a_jpeg_is_resaved_at_higher_quality(tmp_path, scene):
    twice = resaved(scene, 60)

    result, _ = run(save(tmp_path, twice, "twice.jpg", quality=90))

    assert result["recompression"]["double_compression_hint"] is True


def test_it_sees_no_double_compression_in_a_jpeg_saved_once(tmp_path, scene):
    result, _ = run(save(tmp_path, scene, "once.jpg", quality=90))

    recompression = result["recompression"]
    assert recompression["double_compression_hint"] is False
    assert recompression["analysed_frequencies"] >= 3


def test_it_reads_no_recompression_from_a_png(tmp_path, scene):
    result, artifacts = run(save(tmp_path, scene, "scene.png"))

    assert result["recompression"] is None
    assert any("not a JPEG" in note for note in result["notes"])
    assert (artifacts / "ela.png").is_file()


def test_it_fails_with_a_reason_on_a_truncated_jpeg(tmp_path, scene):
    whole = save(tmp_path, scene, "whole.jpg", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:5000])

    with pytest.raises(base.ExtractionFailed, match=r"The JPEG file is truncated: it ends after 5,000 bytes"):
        run(cut)


def test_it_refuses_a_decompression_bomb(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(100_000, 100_000))

    with pytest.raises(base.ExtractionFailed, match="10000.0 megapixels .100,000 x 100,000., over the 50-megapixel"):
        run(path)


def test_it_does_not_read_videos(corpus, tmp_path):
    with pytest.raises(base.Unsupported, match="reads photos only"):
        run(copy_of(corpus / "video" / "with-gps.mp4", tmp_path))


def test_it_reads_every_real_photo_in_the_corpus(corpus, tmp_path):
    files = sorted(f for folder in ("photos", "c2pa") for f in (corpus / folder).iterdir() if f.suffix != ".mp4")

    for path in files:
        result, artifacts = run(copy_of(path, tmp_path))
        assert (artifacts / "ela.png").stat().st_size > 0, path.name
        is_jpeg = path.suffix.lower() == ".jpg"
        assert (result["recompression"] is not None) == is_jpeg, path.name


def test_it_survives_malformed_and_fuzzed_files(corpus, tmp_path):
    files = [path for path in broken_files(corpus) if path.name != "README"]
    slowest = survive_all(forensics.extract, files, tmp_path, corpus)

    print(f"forensics: slowest of {len(files)} files: {slowest.path.name} in {slowest.seconds:.2f} s")


def copy_of(path: Path, tmp_path: Path) -> Path:
    """A copy in tmp_path, so that the artifacts folder beside it is ours to write."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    return copy
