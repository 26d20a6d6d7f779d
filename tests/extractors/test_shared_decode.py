"""The perceptual reader hashes the image reader's decode of a JPEG and reads exactly as from a decode of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media import jpeg_bytes
from workers.extractors import image, imaging, perceptual


def photos(corpus: Path, tmp_path: Path) -> list[Path]:
    generated = tmp_path / "turned.jpg"
    generated.write_bytes(jpeg_bytes(size=(1400, 1000), exif={0x0112: 6}))
    return [*sorted((corpus / "photos").iterdir()), generated]


def reading(path: Path, folder: Path) -> tuple[dict, bytes]:
    folder.mkdir()
    result = perceptual.extract(path, folder)
    return result, (folder / "thumb.jpg").read_bytes()


def test_it_hashes_the_image_readers_decode_as_it_hashes_its_own(corpus, tmp_path):
    for number, path in enumerate(photos(corpus, tmp_path)):
        alone = reading(path, tmp_path / f"alone-{number}")
        image.extract(path, tmp_path)
        shared = imaging._kept_decode
        after_image = reading(path, tmp_path / f"after-{number}")
        assert after_image == alone, path.name
        if path.suffix.lower() in (".jpg", ".jpeg") and shared is not None:
            assert imaging._kept_decode is None  # handed over, not decoded again


def test_it_keeps_a_decode_only_for_the_same_file(tmp_path):
    first, second = tmp_path / "first.jpg", tmp_path / "second.jpg"
    first.write_bytes(jpeg_bytes(size=(1600, 1200), seed=1))
    second.write_bytes(jpeg_bytes(size=(1600, 1200), seed=2))
    image.extract(first, tmp_path)
    with imaging.open_image(second) as other:
        other.draft("RGB", (perceptual.THUMBNAIL_SIZE, perceptual.THUMBNAIL_SIZE))
        assert imaging.take_decoded(second, other) is None


@pytest.mark.parametrize("size", [(1280, 960), (2600, 1400)])
def test_it_hands_the_decode_over_at_the_scale_the_perceptual_reader_asks_for(tmp_path, size):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(size=size))
    image.extract(path, tmp_path)
    with imaging.open_image(path) as drafted:
        drafted.draft("RGB", (perceptual.THUMBNAIL_SIZE, perceptual.THUMBNAIL_SIZE))
        decoded = imaging.take_decoded(path, drafted)
        drafted.load()
        assert decoded is not None
        assert decoded.tobytes() == drafted.tobytes()
