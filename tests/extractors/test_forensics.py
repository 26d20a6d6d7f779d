"""The forensics extractor: error level analysis and JPEG recompression signals, on generated files and the corpus."""

import io
from pathlib import Path

import cv2
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


def test_its_reduced_error_level_image_is_the_mean_of_each_area(tmp_path, scene):
    """A 2048 x 1536 photo: each pixel of the 1024 x 768 preview is the mean of a 2 x 2 block of the difference."""
    path = save(tmp_path, scene.resize((2048, 1536), Image.Resampling.BILINEAR), "double.jpg", quality=80)

    result, artifacts = run(path)

    with Image.open(path) as photo:
        rgb = photo.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=forensics.ELA_QUALITY)
    difference = np.asarray(ImageChops.difference(rgb, Image.open(buffer)), dtype=np.int64)
    means = (difference.reshape(768, 2, 1024, 2, 3).sum(axis=(1, 3)) + 2) // 4  # each block's mean, rounded
    brightened = np.minimum(255, np.rint(means * result["ela"]["scale"]))
    with Image.open(artifacts / "ela.png") as ela:
        shown = np.asarray(ela, dtype=np.int64)
    assert shown.shape == (768, 1024, 3)
    assert np.abs(shown - brightened).max() <= 1  # the figure's scale is rounded to 2 places


def ela_picture_expected(path: Path) -> Image.Image:
    """ela.png as version 5 makes it, from Pillow's decode, re-save and ImageChops.difference at full size: reduced
    to the preview's size by area averaging, brightened by point(), turned upright, with the photo's ICC profile."""
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
    size = preview_size(difference.size)
    if size != difference.size:
        difference = Image.fromarray(cv2.resize(np.asarray(difference), size, interpolation=cv2.INTER_AREA))
    visible = difference.point([min(255, round(value * scale)) for value in range(256)] * 3)
    visible = visible.transpose(turn) if turn is not None else visible
    visible.info["icc_profile"] = rgb.info.get("icc_profile")
    return visible


def photos_to_compare(corpus: Path, tmp_path: Path) -> list[Path]:
    """The corpus photos and a generated 12-megapixel JPEG, re-saved once at a lower quality."""
    twelve = scene_of_size((4000, 3000))
    generated = save(tmp_path, resaved(twelve, 70), "12mp-twice.jpg", quality=88)
    return [*sorted((corpus / "photos").iterdir()), generated]


def test_its_error_level_image_is_the_area_mean_of_the_full_size_difference(corpus, tmp_path):
    for path in photos_to_compare(corpus, tmp_path):
        result, artifacts = run(copy_of(path, tmp_path / "copies") if path.parent != tmp_path else path)

        expected = ela_picture_expected(path)
        with Image.open(artifacts / "ela.png") as ela:
            assert (ela.mode, ela.size) == (expected.mode, expected.size), path.name
            assert ela.tobytes() == expected.tobytes(), path.name
            assert ela.info.get("icc_profile") == expected.info["icc_profile"], path.name


def outcome(path: Path, artifacts: Path) -> tuple:
    """What forensics makes of a file: its reading and ela.png's pixels, or the kind and words of its refusal."""
    artifacts.mkdir(parents=True)
    try:
        result = forensics.extract(path, artifacts)
    except (base.Unsupported, base.ExtractionFailed) as refusal:
        return type(refusal).__name__, str(refusal)
    with Image.open(artifacts / "ela.png") as ela:
        return result, ela.size, ela.tobytes()


def test_libjpeg_turbos_own_decode_reads_every_file_as_pillows_decode_does(corpus, tmp_path, monkeypatch):
    """A JPEG is decoded by libjpeg-turbo into an array only when it decodes without a warning; every photo, and
    every malformed and fuzzed file, reads the same as when Pillow decodes them all, refusals word for word."""
    files = [*sorted((corpus / "photos").iterdir()), *broken_files(corpus)]
    grey = save(tmp_path, make_scene(seed=8).convert("L"), "grey.jpg", quality=80)
    jpeg = save(tmp_path, make_scene(seed=9), "whole.jpg", quality=85)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size * 2 // 3])
    odd = make_scene(seed=10).resize((333, 251), Image.Resampling.BILINEAR)
    kinds = [
        save(tmp_path, odd, "progressive.jpg", quality=70, progressive=True),
        save(tmp_path, odd, "444.jpg", quality=95, subsampling=0),
        save(tmp_path, odd, "422.jpg", quality=60, subsampling=1),
        save(tmp_path, odd, "restarts.jpg", quality=85, restart_marker_blocks=4),
        save(tmp_path, odd.convert("CMYK"), "cmyk.jpg", quality=85),
    ]
    files += [grey, jpeg, cut, *kinds]
    decoded_by_turbo = []
    turbo_pixels = forensics._turbo_pixels

    def turbo_pixels_noted(image, path):
        pixels = turbo_pixels(image, path)
        if pixels is not None:
            decoded_by_turbo.append(path.name)
        return pixels

    monkeypatch.setattr(forensics, "_turbo_pixels", turbo_pixels_noted)
    fast = {path: outcome(path, tmp_path / "fast" / str(number)) for number, path in enumerate(files)}
    monkeypatch.setattr(forensics, "_turbo_pixels", lambda image, path: None)

    for number, path in enumerate(files):
        assert outcome(path, tmp_path / "pillow" / str(number)) == fast[path], path.name
    assert fast[cut][0] == "ExtractionFailed" and "truncated" in fast[cut][1]
    assert fast[grey][0]["recompression"]["estimated_quality"] == 80
    assert {"grey.jpg", "whole.jpg", "DSCN0010.jpg", "Nexus 4.jpg", "progressive.jpg", "444.jpg", "422.jpg"} <= set(
        decoded_by_turbo
    )
    assert "restarts.jpg" in decoded_by_turbo
    assert not {"cut.jpg", "cmyk.jpg"} & set(decoded_by_turbo)


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
