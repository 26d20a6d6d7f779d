"""Decoding within the desk's limits: headers of any size, refusals in a sentence, reduced copies made in strips."""

import numpy as np
import pytest
from PIL import Image

from tests.extractors.helpers import make_scene, png_declaring
from workers.extractors import base, imaging


def paletted_with_transparency(size=(300, 200)) -> Image.Image:
    picture = make_scene(3, size).convert("P", palette=Image.Palette.ADAPTIVE)
    picture.info["transparency"] = 0
    return picture


def test_it_opens_the_header_of_a_picture_pillow_would_refuse(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(40_000, 40_000))

    with imaging.open_header(path) as picture:
        assert picture.size == (40_000, 40_000)
    assert Image.MAX_IMAGE_PIXELS == imaging.MAX_DECODE_PIXELS


def test_it_refuses_to_decode_over_the_limit_in_a_sentence(tmp_path):
    path = tmp_path / "large.png"
    path.write_bytes(png_declaring(9_990, 10_000))

    with imaging.open_image(path) as picture, pytest.raises(base.ExtractionFailed) as refused:
        imaging.decode(picture, path)

    assert str(refused.value) == (
        "The picture is 99.9 megapixels (9,990 x 10,000), over the 50-megapixel limit the desk decodes, "
        "so its pixels were not read; its metadata was still read."
    )


def test_it_converts_a_picture_within_the_size_as_to_rgb_does():
    picture = paletted_with_transparency()

    assert imaging.rgb_within(picture, 300 * 200).tobytes() == imaging.to_rgb(picture).tobytes()


@pytest.mark.parametrize("mode", ["P", "RGBA", "L", "I;16", "I"])
def test_it_reduces_a_larger_picture_in_strips_exactly_as_whole(monkeypatch, mode):
    monkeypatch.setattr(imaging, "STRIP_PIXELS", 5_000)  # many strips, the last one partial
    scene = make_scene(5, (301, 203))
    picture = {
        "P": paletted_with_transparency((301, 203)),
        "RGBA": scene.convert("RGBA"),
        "L": scene.convert("L"),
        "I;16": Image.fromarray(np.asarray(scene.convert("L"), dtype=np.uint16) * 250),
        "I": Image.fromarray(np.asarray(scene.convert("L"), dtype=np.int32) * 1000 - 7),
    }[mode]

    reduced = imaging.rgb_within(picture, 101 * 68)

    assert reduced.size == (101, 68)
    assert reduced.tobytes() == imaging.to_rgb(picture).reduce(3).tobytes()


def test_it_reduces_a_heif_from_libheifs_buffer_exactly_as_from_pillows_decode(tmp_path, monkeypatch):
    monkeypatch.setattr(imaging, "STRIP_PIXELS", 5_000)
    path = tmp_path / "photo.heic"
    make_scene(6, (302, 201)).save(path, format="HEIF", quality=60)

    with imaging.open_header(path) as picture:
        reduced = imaging.heif_rgb_within(picture, path, 151 * 101)
        whole = imaging.to_rgb(picture).reduce(2)

    assert reduced.size == whole.size == (151, 101)
    assert reduced.tobytes() == whole.tobytes()
