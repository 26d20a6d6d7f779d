"""Bad input to near-duplicate matching: blank, one-colour, tiny, heavily compressed pictures and corrupt
metadata are each handled with a readable reason, and never match an unrelated picture."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.matching.helpers import Archive
from tests.near_duplicates import generated_picture
from workers.extractors import perceptual, regions
from workers.extractors.base import ExtractionFailed, Unsupported

MALFORMED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "malformed"


@pytest.fixture(scope="module")
def originals() -> list[Image.Image]:
    return [generated_picture(seed) for seed in range(800, 803)]


@pytest.fixture(scope="module")
def archive(originals) -> Archive:
    return Archive(originals)


def read(tmp_path: Path, data: bytes, name: str = "file.jpg") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(exist_ok=True)
    return perceptual.extract(path, artifacts)


def encoded(picture: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, **({"format": "JPEG"} | options))
    return out.getvalue()


@pytest.mark.parametrize(
    "picture",
    [Image.new("RGB", (800, 600), (255, 255, 255)), Image.new("RGB", (800, 600), (200, 30, 30))],
    ids=["blank", "one colour"],
)
def test_it_gives_a_blank_or_one_colour_picture_no_region_hashes_and_says_why(tmp_path, picture):
    reading = read(tmp_path, encoded(picture))

    assert reading["quality"] == "low"
    assert reading["low_quality_reason"] == perceptual.LOW_QUALITY_REASON
    assert (reading["regions"], reading["variants"]) == ([], [])


def test_it_gives_a_tiny_picture_no_region_hashes_and_says_why(tmp_path):
    noise = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    reading = read(tmp_path, encoded(Image.fromarray(noise), format="PNG"), "tiny.png")

    assert reading["quality"] == "low"
    assert reading["low_quality_reason"].startswith("The picture is only 16 x 12 pixels")
    assert (reading["regions"], reading["variants"]) == ([], [])


def test_it_matches_no_heavily_compressed_unrelated_picture(archive):
    for seed in range(850, 853):
        squeezed = Image.open(io.BytesIO(encoded(generated_picture(seed), quality=2))).convert("RGB")
        assert archive.matches(squeezed) == set()


def test_it_matches_a_heavily_compressed_copy_to_its_original_only(archive, originals):
    squeezed = Image.open(io.BytesIO(encoded(originals[1], quality=5))).convert("RGB")

    assert archive.matches(squeezed) <= {1}


def test_it_reads_a_picture_with_corrupt_exif_as_stored_and_matches_its_original(tmp_path, archive, originals):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned...
    data = bytearray(encoded(originals[2], exif=exif.tobytes()))
    at = data.index(b"MM\x00*") if b"MM\x00*" in data else data.index(b"II*\x00")
    data[at + 4 : at + 8] = b"\xff\xff\xff\xf0"  # ...but the first IFD is past the end of the file

    reading = read(tmp_path, bytes(data))

    assert reading["quality"] == "ok"
    assert reading["width"] == originals[2].width
    with Image.open(tmp_path / "artifacts" / "thumb.jpg") as thumb:
        assert archive.matches(thumb.convert("RGB")) == {2}


@pytest.mark.skipif(not MALFORMED.is_dir(), reason="needs ../shared/corpus/malformed")
def test_it_reads_malformed_files_or_says_why_and_never_matches_them_to_unrelated_pictures(tmp_path, archive):
    for path in sorted(MALFORMED.iterdir())[:20]:
        artifacts = tmp_path / path.name
        artifacts.mkdir()
        try:
            reading = perceptual.extract(path, artifacts)
        except (ExtractionFailed, Unsupported) as exc:
            assert str(exc).strip(), path.name
            continue
        if reading.get("variants"):
            with Image.open(artifacts / "thumb.jpg") as thumb:
                assert archive.matches(thumb.convert("RGB")) == set(), path.name
        else:
            assert reading.get("low_quality_reason") or "keyframes" in reading, path.name


def test_it_keeps_a_blank_quarter_of_a_collage_out_of_the_lookup():
    collage = Image.new("RGB", (800, 600), (255, 255, 255))
    collage.paste(generated_picture(870, (400, 300)), (0, 0))

    labels = [h.label for h in regions.hash_regions(regions.query_variants(collage))]

    assert "cut to its top left quarter" in labels
    assert "cut to its bottom right quarter" not in labels
