"""File kinds come from the first bytes, never from the name."""

import pytest

from tests.media import jpeg_bytes, png_bytes
from workers.filetype import sniff


@pytest.mark.parametrize(
    ("head", "kind", "mime"),
    [
        (jpeg_bytes(), "photo", "image/jpeg"),
        (png_bytes(), "photo", "image/png"),
        (b"II*\x00" + bytes(60), "photo", "image/tiff"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "photo", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heic", "photo", "image/heif"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video", "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3" + bytes(40), "video", "video/x-matroska"),
        (b"%PDF-1.7\n", "other", "application/octet-stream"),
        (b"", "other", "application/x-empty"),
    ],
)
def test_it_identifies_a_file_by_its_first_bytes(head, kind, mime):
    found = sniff(head)
    assert (found.kind, found.mime_type) == (kind, mime)


def test_it_says_what_an_unknown_file_starts_with():
    assert sniff(b"hello world").description == "not a photo or video format we know (starts 68 65 6c 6c 6f 20 77 6f)"


def test_it_describes_an_unprintable_brand_readably():
    assert sniff(b"\x00\x00\x00\x18ftypi\x00\x01m" + bytes(40)).description == "ISO media file (brand i??m)"
