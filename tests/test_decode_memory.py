"""No reading of a huge picture holds more than ~300 MB: each extractor, and search by file, in a fresh process.

The files are made once per run in a temporary folder (tests/decode_memory.py): a 99.9-megapixel paletted
PNG of a few hundred KB (a decompression bomb), a 100-megapixel JPEG and a 100-megapixel HEIC. The figures,
against a baseline, come from bench/decode_memory.py.
"""

from pathlib import Path

import pytest

from tests.decode_memory import PHOTO_EXTRACTORS, bomb_png, large_heic, large_jpeg, measure, web_env

CEILING_MIB = 300
FILES = ("bomb-99.9mp.png", "photo-100mp.jpg", "photo-100mp.heic")
OVER_THE_LIMIT = "megapixels ({size}), over the 50-megapixel limit the desk decodes, so its pixels were not read"


@pytest.fixture(scope="session")
def huge_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("huge-pictures")
    made = [bomb_png(folder / FILES[0]), large_jpeg(folder / FILES[1]), large_heic(folder / FILES[2])]
    return {path.name: path for path in made}


@pytest.fixture(scope="session")
def web_process_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return web_env(tmp_path_factory.mktemp("web-process"))


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("extractor", PHOTO_EXTRACTORS)
def test_it_reads_a_huge_picture_in_a_worker_within_the_memory_ceiling(huge_files, tmp_path, extractor, name):
    reading = measure(extractor, huge_files[name], tmp_path / "work")

    assert reading.peak_mib < CEILING_MIB, reading
    assert reading.outcome == "ok" or "megapixel" in reading.outcome, reading


@pytest.mark.parametrize("name", FILES)
def test_it_searches_by_a_huge_picture_in_the_web_process_within_the_memory_ceiling(
    huge_files, web_process_env, tmp_path, name
):
    reading = measure("web-search", huge_files[name], tmp_path / "work", web_process_env)

    assert reading.peak_mib < CEILING_MIB, reading
    assert reading.outcome.startswith("HTTP 200"), reading


@pytest.mark.parametrize(
    ("name", "size"), [("bomb-99.9mp.png", "9,990 x 10,000"), ("photo-100mp.heic", "10,000 x 10,000")]
)
def test_it_says_why_a_picture_over_the_limit_has_no_hash(huge_files, tmp_path, name, size):
    reading = measure("perceptual", huge_files[name], tmp_path / "work")

    assert OVER_THE_LIMIT.format(size=size) in reading.outcome, reading


def test_it_reads_a_100_megapixel_jpeg_at_reduced_scale_rather_than_refusing_it(huge_files, tmp_path):
    for extractor in ("image", "perceptual", "forensics"):
        assert measure(extractor, huge_files["photo-100mp.jpg"], tmp_path / extractor).outcome.startswith("ok")
