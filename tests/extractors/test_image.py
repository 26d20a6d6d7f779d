"""The image extractor on images made here, and on the shared corpus of real and broken files."""

import io
import random
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from tests.extractors.helpers import attempt_all, broken_files, is_sentence, png_declaring, problems_in
from tests.media import jpeg_bytes, png_bytes, write
from workers.extractors import base, image

SLOW_SECONDS = 3.0
IJG_LUMINANCE_AT_50 = [16, 11, 10, 16, 24, 40, 51, 61]  # first row of Annex K, unscaled at quality 50


def jpeg(*, size=(64, 48), mode="RGB", **save_options) -> bytes:
    rng = random.Random(3)
    picture = Image.frombytes(mode, size, rng.randbytes(size[0] * size[1] * len(mode)))
    out = io.BytesIO()
    picture.save(out, "JPEG", **save_options)
    return out.getvalue()


def exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """A little-endian EXIF block: IFD0 with an orientation, then IFD1 pointing at a JPEG thumbnail."""
    ifd1_at = 8 + 2 + 12 + 4
    thumbnail_at = ifd1_at + 2 + 3 * 12 + 4
    entry = struct.Struct("<HHII")  # tag, type (3 short, 4 long), count, value
    ifd0 = struct.pack("<H", 1) + entry.pack(0x0112, 3, 1, 1) + struct.pack("<I", ifd1_at)
    ifd1 = (
        struct.pack("<H", 3)
        + entry.pack(0x0103, 3, 1, 6)  # Compression: JPEG
        + entry.pack(0x0201, 4, 1, thumbnail_at)  # JPEGInterchangeFormat
        + entry.pack(0x0202, 4, 1, len(thumbnail))  # JPEGInterchangeFormatLength
        + struct.pack("<I", 0)
    )
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + thumbnail


def read(path: Path) -> dict:
    return image.extract(path, path.parent)


def test_it_reads_format_size_mode_and_frames_of_a_jpeg(tmp_path):
    result = read(write(tmp_path / "photo.jpg", jpeg(size=(64, 48))))

    assert (result["format"], result["width"], result["height"], result["mode"], result["frames"]) == (
        "JPEG",
        64,
        48,
        "RGB",
        1,
    )


def test_it_reports_the_size_as_stored_before_exif_rotation(tmp_path):
    tags = Image.Exif()
    tags[0x0112] = 6  # rotated 90 CW: a viewer shows it 48 wide, 64 high
    result = read(write(tmp_path / "photo.jpg", jpeg(size=(64, 48), exif=tags)))

    assert (result["width"], result["height"]) == (64, 48)


def test_it_reads_the_quantisation_tables_of_a_jpeg(tmp_path):
    result = read(write(tmp_path / "photo.jpg", jpeg(quality=50)))

    tables = result["jpeg"]["quantization"]
    assert sorted(tables) == ["0", "1"]
    assert all(len(table) == 64 for table in tables.values())
    assert tables["0"][:8] == IJG_LUMINANCE_AT_50


@pytest.mark.parametrize("quality", [10, 50, 75, 90, 98])
def test_it_estimates_the_quality_a_jpeg_was_saved_at(tmp_path, quality):
    result = read(write(tmp_path / "photo.jpg", jpeg(quality=quality)))

    assert abs(result["jpeg"]["estimated_quality"] - quality) <= 3


@pytest.mark.parametrize(("setting", "name"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_it_names_the_chroma_subsampling(tmp_path, setting, name):
    result = read(write(tmp_path / "photo.jpg", jpeg(subsampling=setting)))

    assert result["jpeg"]["subsampling"] == name


def test_it_has_no_subsampling_for_a_greyscale_jpeg(tmp_path):
    result = read(write(tmp_path / "grey.jpg", jpeg(mode="L")))

    assert result["mode"] == "L"
    assert result["jpeg"]["subsampling"] is None


def test_it_describes_the_icc_profile(tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    result = read(write(tmp_path / "photo.jpg", jpeg(icc_profile=profile)))

    assert "sRGB" in result["icc_profile"]


def test_it_finds_and_decodes_the_exif_thumbnail(tmp_path):
    thumbnail = io.BytesIO()
    Image.new("RGB", (160, 120), (0, 90, 200)).save(thumbnail, "JPEG")
    data = jpeg(size=(640, 480), exif=exif_with_thumbnail(thumbnail.getvalue()))

    result = read(write(tmp_path / "photo.jpg", data))

    assert result["has_exif_thumbnail"] is True
    # A thumbnail of one flat colour has no meaningful hash.
    assert result["exif_thumbnail"] == {"width": 160, "height": 120, "phash": None}


def test_it_hashes_a_camera_thumbnail_like_the_picture_it_shows(corpus, tmp_path):
    import imagehash

    from workers.extractors import perceptual

    photo = corpus / "photos" / "DSCN0010.jpg"
    thumbnail = read(photo)["exif_thumbnail"]
    picture = perceptual.extract(photo, tmp_path)["hash"]

    assert imagehash.hex_to_hash(thumbnail["phash"]) - imagehash.hex_to_hash(picture) <= 4


def test_it_reports_a_thumbnail_it_cannot_decode_as_present_but_unreadable(tmp_path):
    data = jpeg(exif=exif_with_thumbnail(b"\xff\xd8\xff" + bytes(200)))

    result = read(write(tmp_path / "photo.jpg", data))

    assert (result["has_exif_thumbnail"], result["exif_thumbnail"]) == (True, None)


def test_it_reports_no_thumbnail_when_the_exif_has_none(tmp_path):
    result = read(write(tmp_path / "photo.jpg", jpeg_bytes(exif={0x010F: "Camera"})))

    assert (result["has_exif_thumbnail"], result["exif_thumbnail"]) == (False, None)


def test_it_reads_a_png_without_jpeg_readings(tmp_path):
    result = read(write(tmp_path / "plain.png", png_bytes(size=(32, 20))))

    assert (result["format"], result["width"], result["height"]) == ("PNG", 32, 20)
    assert result["jpeg"] is None
    assert result["icc_profile"] is None
    assert result["has_exif_thumbnail"] is False


def test_it_reports_a_rotated_heic_at_its_stored_size(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    tags = Image.Exif()
    tags[0x0112] = 6  # pillow-heif stores this as a HEIF rotation (irot) that viewers apply
    path = tmp_path / "phone.heic"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(path, "HEIF", exif=tags.tobytes())

    result = read(path)

    assert (result["format"], result["width"], result["height"]) == ("HEIF", 64, 48)


def test_it_fails_on_a_truncated_jpeg_saying_where_it_ends(tmp_path):
    data = jpeg(size=(256, 256))
    path = write(tmp_path / "cut.jpg", data[:4096])

    with pytest.raises(base.ExtractionFailed, match=r"^Image data is truncated \(file ends at byte 4,096\)\.$"):
        read(path)


def test_it_reads_the_header_of_an_image_over_the_decoding_limit_without_decoding_it(tmp_path):
    path = write(tmp_path / "huge.png", png_declaring(15_000, 15_000))

    result = read(path)

    assert (result["format"], result["width"], result["height"], result["mode"]) == ("PNG", 15_000, 15_000, "RGB")
    assert result["not_decoded"] == (
        "The picture is 225.0 megapixels (15,000 x 15,000), over the 50-megapixel limit the desk decodes, "
        "so its pixels were not read; its metadata was still read."
    )


def test_it_reads_the_header_of_a_decompression_bomb_pillow_would_refuse(tmp_path):
    path = write(tmp_path / "bomb.png", png_declaring(50_000, 50_000))

    result = read(path)

    assert (result["width"], result["height"]) == (50_000, 50_000)
    assert result["not_decoded"].startswith("The picture is 2500.0 megapixels (50,000 x 50,000), over the 50-")


def test_it_decodes_a_photo_within_the_limit_with_no_note(tmp_path):
    path = write(tmp_path / "photo.jpg", jpeg(size=(256, 256)))

    assert "not_decoded" not in read(path)


def test_it_fails_on_a_jpeg_whose_header_pillow_cannot_read(tmp_path):
    path = write(tmp_path / "broken.jpg", b"\xff\xd8" + bytes(500))

    with pytest.raises(base.ExtractionFailed, match="starts like a JPEG image but Pillow cannot read its header"):
        read(path)


def test_it_refuses_random_bytes_saying_what_they_start_with(tmp_path):
    data = b"\x00\x00\x00\x18ftypisom" + random.Random(7).randbytes(4096)

    with pytest.raises(base.Unsupported, match="Not an image Pillow can read: starts with bytes 00 00 00 18 66 74"):
        read(write(tmp_path / "noise.bin", data))


# The shared corpus


def test_it_reads_the_size_exiftool_reads(corpus, corpus_expected):
    photos = sorted((corpus / "photos").iterdir()) + sorted((corpus / "c2pa").glob("*.jpg"))
    wrong = {}
    for path in photos:
        name = f"{path.parent.name}/{path.name}"
        result = image.extract(path, corpus)
        expected = corpus_expected[name]
        if (result["width"], result["height"]) != (expected["width"], expected["height"]):
            wrong[name] = (result["width"], result["height"], expected["width"], expected["height"])
    assert not wrong


def test_it_turns_every_malformed_and_fuzzed_file_into_a_readable_outcome(corpus):
    outcomes = attempt_all(lambda path: image.extract(path, corpus), broken_files(corpus), readable=is_sentence)

    assert not problems_in(outcomes, seconds=SLOW_SECONDS)
