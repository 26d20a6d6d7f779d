"""The image extractor: what Pillow reads of a photo: format, size, colour profile, JPEG quality, EXIF thumbnail."""

from __future__ import annotations

import io
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import imagehash
import pillow_heif
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.imaging import (
    FULL_SIZE_PIXELS,
    UPRIGHT,
    has_detail,
    heif_rgb_within,
    keep_decoded,
    open_header,
    too_large_to_decode,
)
from workers.extractors.jpeg_tables import IJG_CHROMINANCE, IJG_LUMINANCE, nearest_quality
from workers.extractors.perceptual import THUMBNAIL_SIZE

NAME = "image"
# 3: a picture over the desk's decoding limit (imaging.MAX_DECODE_PIXELS, 50 megapixels after any
# reduced-scale JPEG decode) keeps its header readings, with "not_decoded" saying why its data was not
# decoded; in 2 it failed above 200 megapixels and was decoded in full below. Others read as in 2.
VERSION = "3"
KINDS = frozenset({"photo"})

# EXIF thumbnails are 160 x 120 by the standard; a "thumbnail" far larger is not decoded.
MAX_THUMBNAIL_PIXELS = 4_000_000
pillow_heif.register_heif_opener()

JPEG_FORMATS = ("JPEG", "MPO")
# What Pillow and its plugins raise on bytes they cannot decode: each plugin parses with its own
# mix of struct, indexing and explicit errors, and pillow-heif adds RuntimeError.
PILLOW_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ZeroDivisionError,
    RuntimeError,
)
# First bytes of the image formats a desk receives, to tell a broken image from a non-image.
IMAGE_SIGNATURES = (
    (b"\xff\xd8", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1", b"avif")

# Luma sampling factors relative to chroma, and the name J:a:b the trade gives them.
SUBSAMPLING_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0", (4, 1): "4:1:1"}


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Read a photo's header with Pillow, then decode it once to prove its data is whole."""
    file_size = path.stat().st_size
    with _translated_errors(file_size), _open(path, file_size) as image:
        width, height = _stored_size(image)
        result = {
            "format": image.format,
            "width": width,
            "height": height,
            "mode": image.mode,
            "frames": getattr(image, "n_frames", 1),
            "icc_profile": _icc_description(image.info.get("icc_profile")),
            "jpeg": _jpeg_readings(image) if image.format in JPEG_FORMATS else None,
            **_exif_thumbnail(image.info.get("exif")),
        }
        image.verify()
    # verify() leaves the image unusable, so the decode opens the file again.
    with _translated_errors(file_size), _open(path, file_size) as image:
        if image.format == "JPEG":
            # libjpeg reads every coefficient at reduced scale too, so truncation still shows; at the scale
            # the perceptual reader asks for, which then hashes this decode instead of making its own.
            image.draft(image.mode, (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        elif image.format in JPEG_FORMATS:
            # libjpeg decodes every coefficient at 1/8 scale too, so truncation still shows,
            # with 1/64 of the memory.
            image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        if too_large := too_large_to_decode(*image.size):
            # The header and the EXIF thumbnail above are read; the data is not, so damage inside it would not show.
            result["not_decoded"] = too_large
        elif image.format == "HEIF" and image.width * image.height > FULL_SIZE_PIXELS:
            # libheif's own decode proves the data whole without Pillow's full-size copy of it.
            heif_rgb_within(image, path, FULL_SIZE_PIXELS)
        else:
            image.load()
            if image.format == "JPEG":
                keep_decoded(path, image)
    return result


def _open(path: Path, file_size: int) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow's "Corrupt EXIF data" warnings are the exif extractor's findings.
        warnings.simplefilter("ignore", UserWarning)
        try:
            # Headers of any size are read; extract() decodes only what the desk's limit allows.
            return open_header(path)
        except UnidentifiedImageError as err:
            raise _unreadable(path, file_size) from err


def _unreadable(path: Path, file_size: int) -> Exception:
    """Unsupported for a non-image, ExtractionFailed for an image whose header Pillow cannot read."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        return ExtractionFailed("The file is empty (0 bytes).")
    claimed = next((name for signature, name in IMAGE_SIGNATURES if head.startswith(signature)), None)
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        claimed = "HEIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        claimed = "WebP"
    if claimed:
        return ExtractionFailed(
            f"File starts like a {claimed} image but Pillow cannot read its header: it is corrupt or truncated "
            f"({file_size:,} bytes)."
        )
    return Unsupported(f"Not an image Pillow can read: starts with bytes {' '.join(f'{b:02x}' for b in head)}.")


@contextmanager
def _translated_errors(file_size: int) -> Iterator[None]:
    try:
        yield
    except Image.DecompressionBombError as err:
        match = re.search(r"\((\d+) pixels\)", str(err))
        claimed = f"{int(match[1]):,} pixels" if match else "more pixels than Pillow allows"
        raise ExtractionFailed(f"Image claims {claimed}, more than Pillow decodes.") from err
    except PILLOW_ERRORS as err:
        raise ExtractionFailed(_decode_failure(err, file_size)) from err


def _decode_failure(err: Exception, file_size: int) -> str:
    text = str(err).strip()
    # Pillow says "image file is truncated (N bytes not processed)" or "Truncated File Read".
    if isinstance(err, EOFError) or "truncated" in text.lower():
        return f"Image data is truncated (file ends at byte {file_size:,})."
    if "broken data stream" in text:
        return f"Image data is corrupt: the decoder met a broken data stream (file is {file_size:,} bytes)."
    return f"Pillow cannot read the image: {text or 'no reason given'} ({type(err).__name__})."


def _stored_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as encoded, before any rotation.

    pillow-heif reports a HEIF after its rotation (the irot property, which HEIF viewers must
    apply), so a quarter turn is undone to give the encoded size, as ExifTool reports it. The
    rotation is only exposed on pillow-heif's private image object; the corpus tests pin this.
    """
    width, height = image.size
    heif_file = getattr(image, "_heif_file", None)
    if image.format != "HEIF" or heif_file is None:
        return width, height
    transformations = getattr(heif_file[image.tell()]._c_image, "transformations", ())
    quarter_turns = [step for step in transformations if step[0] == "irot" and step[1] in (90, 270)]
    return (height, width) if quarter_turns else (width, height)


def _icc_description(icc: bytes | None) -> str | None:
    if not icc:
        return None
    try:
        description = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.profile_description
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        description = None
    description = (description or "").replace("\x00", "").strip()
    return description or f"an ICC profile of {len(icc):,} bytes without a readable description"


def _jpeg_readings(image: Image.Image) -> dict:
    tables = {table_id: list(values) for table_id, values in image.quantization.items() if len(values) == 64}
    layer = getattr(image, "layer", [])  # per component: (id, h sampling, v sampling, table id)
    luminance = tables.get(layer[0][3] if layer else 0)
    chroma_id = layer[1][3] if len(layer) >= 3 else None
    chroma = tables.get(chroma_id) if chroma_id is not None and chroma_id != layer[0][3] else None
    return {
        # Keys as strings, so the result reads back from JSON unchanged.
        "quantization": {str(table_id): values for table_id, values in tables.items()},
        "estimated_quality": _estimated_quality(luminance, chroma) if luminance else None,
        "subsampling": _subsampling(layer),
    }


def _estimated_quality(luminance: list[int], chroma: list[int] | None) -> int:
    """The libjpeg quality setting whose tables are nearest to these (see jpeg_tables.nearest_quality).

    Only the tables the image's components use count: the luminance table, plus the chroma
    table when the file has a separate one. (Forensics compares every table in the file by
    slot instead, as its question is whether the whole file is what libjpeg writes.)
    """
    pairs = [(luminance, IJG_LUMINANCE)] + ([(chroma, IJG_CHROMINANCE)] if chroma else [])
    return nearest_quality(pairs)[0]


def _subsampling(layer: list[tuple[int, int, int, int]]) -> str | None:
    """The chroma subsampling as J:a:b, None for a one-component (greyscale) JPEG."""
    if len(layer) < 3:
        return None
    luma = layer[0][1:3]
    chroma = {component[1:3] for component in layer[1:3]}
    if len(chroma) == 1:
        chroma_h, chroma_v = chroma.pop()
        if chroma_h and chroma_v and luma[0] % chroma_h == 0 and luma[1] % chroma_v == 0:
            name = SUBSAMPLING_NAMES.get((luma[0] // chroma_h, luma[1] // chroma_v))
            if name:
                return name
    return "irregular: " + ", ".join(f"{h}x{v}" for _, h, v, _ in layer)


def _exif_thumbnail(exif_block: bytes | None) -> dict:
    """Whether the EXIF block's IFD1 points at a JPEG thumbnail, and its size once decoded."""
    absent = {"has_exif_thumbnail": False, "exif_thumbnail": None}
    if not exif_block:
        return absent
    tiff = exif_block[6:] if exif_block.startswith(b"Exif\x00\x00") else exif_block
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of corrupt EXIF; the exif extractor reports it
            exif = Image.Exif()
            exif.load(tiff)
            ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    except PILLOW_ERRORS:
        return absent  # a broken EXIF block is the exif extractor's finding, not this one's
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)  # JPEGInterchangeFormat(Length)
    if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
        return absent
    orientation = exif.get(0x0112)  # the main image's; the thumbnail is stored the same way up
    thumbnail = _thumbnail_reading(tiff[offset : offset + length], orientation)
    return {"has_exif_thumbnail": True, "exif_thumbnail": thumbnail}


def _thumbnail_phash(thumbnail: Image.Image, orientation) -> str | None:
    """The thumbnail's pHash as the perceptual extractor hashes the picture: upright, letterbox bars cut off.

    Cameras pad thumbnails to 160×120 with black bars; left in, the bars alone move the hash
    by up to ~18 bits, so a camera's own thumbnail would look like different content.
    None for a thumbnail of nearly one shade, whose hash would mean nothing.
    """
    rgb = thumbnail.convert("RGB")
    if not has_detail(rgb):
        return None
    if orientation in UPRIGHT:
        rgb = rgb.transpose(UPRIGHT[orientation])
    box = rgb.convert("L").point(lambda v: 255 if v > 16 else 0).getbbox()
    if box and (box[2] - box[0]) * (box[3] - box[1]) > 0.25 * rgb.width * rgb.height:
        rgb = rgb.crop(box)
    return str(imagehash.phash(rgb))


def _thumbnail_reading(data: bytes, orientation) -> dict | None:
    """{"width", "height", "phash"} of the thumbnail, or None when Pillow cannot decode it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            thumbnail = Image.open(io.BytesIO(data), formats=["JPEG"])
        with thumbnail:
            if thumbnail.width * thumbnail.height > MAX_THUMBNAIL_PIXELS:
                return None
            thumbnail.load()
            return {
                "width": thumbnail.width,
                "height": thumbnail.height,
                "phash": _thumbnail_phash(thumbnail, orientation),
            }
    except (*PILLOW_ERRORS, Image.DecompressionBombError):
        return None
