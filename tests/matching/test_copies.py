"""Near-duplicate matching over a small generated set: every kind of copy is found, unrelated pictures are not."""

import pytest
from PIL import Image

from tests.extractors.helpers import make_scene
from tests.matching.helpers import Archive
from tests.near_duplicates import COPY_KINDS, generated_picture, make_copy

ORIGINALS = 3
UNRELATED = 4


@pytest.fixture(scope="module")
def originals() -> list[Image.Image]:
    return [make_scene(seed, size=(900, 600)) for seed in range(900, 900 + ORIGINALS)]


@pytest.fixture(scope="module")
def archive(originals) -> Archive:
    return Archive(originals)


@pytest.mark.parametrize("kind", list(COPY_KINDS))
def test_it_finds_the_original_of_each_kind_of_copy(archive, originals, kind):
    for number, original in enumerate(originals):
        assert archive.matches(make_copy(original, kind, seed=number)) == {number}, f"copy {number}"


def test_it_matches_no_unrelated_picture(archive):
    for seed in range(950, 950 + UNRELATED):
        assert archive.matches(generated_picture(seed)) == set()


def test_it_matches_no_unrelated_picture_in_a_collage(archive):
    unrelated = generated_picture(960)
    for seed in range(2):
        assert archive.matches(make_copy(unrelated, "collage quarter", seed=seed)) == set()
