"""The exif extractor: camera, capture time, place and orientation as a photo's EXIF block records them.

Where the EXIF block has no capture time or place, the photo's XMP packet and a FLIR camera's own
records are read for them, as ExifTool does; the result says which source each reading came from.
Where ExifRead finds no EXIF in a WebP or PNG, Pillow's reading of its chunks is used (pillow_meta.py),
and a PNG's "Creation Time" text is its capture time when nothing else gives one.
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import exifread
import pillow_heif
from exifread.core.exceptions import ExifError
from exifread.tags.fields import FieldType

from workers.extractors import pillow_meta, xmp
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.flir import FlirError, FlirRecords, FlirSegments, Position

NAME = "exif"
VERSION = "3"
KINDS = frozenset({"photo"})

MAX_TAG_CHARS = 500
# A real JPEG has a few dozen header segments; past this many the header is garbage.
MAX_JPEG_MARKERS = 10_000
# How many reads ExifRead may make of one file (see _ReadBudget).
MAX_EXIF_READS = 250_000
# Tags of these types longer than this are binary blobs (print data, padding), not readings.
BLOB_TYPES = frozenset({FieldType.BYTE, FieldType.SIGNED_BYTE, FieldType.UNDEFINED})
MAX_BLOB_BYTES = 64

# ISO-BMFF major brands of HEIF and AVIF still images and sequences.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
HEIF_BRANDS |= frozenset({b"mif1", b"msf1", b"avif", b"avis"})

# ExifRead parses with plain indexing, struct and asserts, so a hostile block surfaces as any of
# these rather than as one error type; each means "these bytes are not a readable EXIF block".
PARSE_ERRORS = (
    ExifError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    EOFError,
    AssertionError,
    NotImplementedError,
    ZeroDivisionError,
    OverflowError,
)
# What pillow-heif (libheif) raises on a HEIF it cannot open, as its documentation lists.
HEIF_ERRORS = (ValueError, EOFError, SyntaxError, RuntimeError, OSError)

# Where the EXIF block keeps a capture time, best first, with the offset and sub-second tags of each.
# Image DateTime is when the file was last changed, never the capture time.
CAPTURE_TIME_TAGS = (
    ("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal", "EXIF SubSecTimeOriginal"),
    ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized", "EXIF SubSecTimeDigitized"),
)
MODIFIED_TIME_TAGS = ("Image DateTime", "EXIF OffsetTime", "EXIF SubSecTime")
# The XMP properties that hold a capture time, best first (ExifTool's order).
XMP_CAPTURE_TIMES = ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated")
EXIF_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
UTC_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
SUB_SECONDS = re.compile(r"\d{1,9}")
ISO_FRACTION_DIGITS = 6


class _Moment(NamedTuple):
    """A time as one source records it: where it came from, its text as stored, ISO 8601, UTC offset."""

    source: str | None
    raw: str | None
    iso: str | None
    offset: str | None


NO_MOMENT = _Moment(None, None, None, None)


@dataclass
class _JpegHeader:
    """What a JPEG's header segments hold for this extractor."""

    exif: bytes | None = None  # the first Exif segment's TIFF bytes
    xmp: bytes | None = None  # the first XMP segment's payload
    flir: FlirSegments = field(default_factory=FlirSegments)
    notes: list[str] = field(default_factory=list)

    def holds_anything(self) -> bool:
        return self.exif is not None or self.xmp is not None or bool(self.flir)


def extract(path: Path, artifacts_dir: Path) -> dict:
    """Read the EXIF block (and XMP packet, and FLIR records) of a JPEG, TIFF, HEIC/HEIF, PNG, WebP or JPEG XL."""
    container = _container(path)
    if container != "jpeg":
        notes: list[str] = []
        tags, png_time = _container_tags(path, container, notes)
        properties = _xmp_properties(partial(xmp.packet_in_file, path), notes)
        return _readings(tags, properties, None, notes, png_time=png_time)
    header = _jpeg_header(path)
    tags = {} if header.exif is None else _tags_from_block(header.exif)
    properties = _xmp_properties(partial(xmp.packet_from_app1, header.xmp), header.notes)
    return _readings(tags, properties, _flir_records(path, header), header.notes)


def _container(path: Path) -> str:
    """Which container ExifRead can read the file as, from its first bytes."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        raise ExtractionFailed("The file is empty (0 bytes).")
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return "heif"
        raise Unsupported(
            f"Not a HEIF image but an ISO media file (the MP4/QuickTime family) of brand "
            f"{brand.decode('latin-1')!r}; this extractor reads photos only: starts with bytes {_hex(head)}."
        )
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "jxl"
    raise Unsupported(
        f"Not a format ExifRead reads (JPEG, TIFF, HEIC/HEIF, PNG, WebP, JPEG XL): starts with bytes {_hex(head)}."
    )


def _container_tags(path: Path, container: str, notes: list[str]) -> tuple[dict[str, Any], _Moment | None]:
    """The EXIF tags of a file other than a JPEG, and a PNG's own creation time.

    ExifRead first; for WebP and PNG, where it finds nothing, the EXIF block Pillow finds (a WebP's
    extended layout, a PNG's "Raw profile type exif" text chunk).
    """
    if container not in ("png", "webp"):
        return _read_tags(path, container), None
    try:
        tags = _read_tags(path, container)
    except ExtractionFailed as err:
        tags = {}
        notes.append(str(err))
    try:
        chunks = pillow_meta.read_chunks(path)
    except pillow_meta.ContainerError as err:
        if not tags and notes:
            raise ExtractionFailed(f"{notes[0]} {err}") from err
        notes.append(str(err))
        return tags, None
    if not tags and chunks.exif:
        tags = _tags_from_block(chunks.exif)
    return tags, _png_time(chunks.creation_time)


def _png_time(text: str | None) -> _Moment | None:
    exif_style = pillow_meta.png_time_as_exif(text) if text else None
    if not exif_style:
        return None
    offset = UTC_OFFSET.search(exif_style[19:])
    zone = offset.group(0) if offset else None
    return _Moment("PNG Creation Time", text, _iso_time(exif_style, "", zone), zone)


def _read_tags(path: Path, container: str) -> dict[str, Any]:
    """The EXIF tags of a file other than a JPEG."""
    if container == "heif":
        return _heif_tags(path)
    with path.open("rb") as fh:
        return _process(fh)


def _process(fh: BinaryIO) -> dict[str, Any]:
    try:
        return _exifread(fh)
    except PARSE_ERRORS as err:
        raise ExtractionFailed(f"EXIF block is corrupt: {_reason(err)}") from err


def _exifread(fh: BinaryIO) -> dict[str, Any]:
    # details=False: no MakerNote decoding, the slow and memory-hungry part of ExifRead.
    return exifread.process_file(_ReadBudget(fh), details=False, extract_thumbnail=False)


class _ReadBudget:
    """The file as ExifRead sees it, with a limit on how many reads it may make.

    ExifRead reads every value of every tag separately, so 64 KB of IFD entries that each claim
    hundreds of values keeps it busy for minutes, and a HEIF box of size zero makes it loop.
    A camera file takes a few hundred reads; a large multi-page TIFF some tens of thousands.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self._reads_left = MAX_EXIF_READS

    def read(self, size: int = -1) -> bytes:
        self._reads_left -= 1
        if self._reads_left < 0:
            raise ExtractionFailed(
                f"EXIF block is corrupt or hostile: reading it took more than {MAX_EXIF_READS:,} steps."
            )
        return self._fh.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()


def _tags_from_block(block: bytes) -> dict[str, Any]:
    """Read an EXIF block (a TIFF structure) cut out of its container."""
    if block[:2] not in (b"II", b"MM"):
        raise ExtractionFailed(
            f"EXIF block is corrupt: it should start with a TIFF header (II or MM) but starts with bytes "
            f"{_hex(block[:8])}."
        )
    return _process(io.BytesIO(block))


def _jpeg_header(path: Path) -> _JpegHeader:
    """The EXIF, XMP and FLIR segments of a JPEG's header.

    A header that breaks after some of them is kept, with a note, as ExifTool keeps what it has read;
    one that breaks before any of them fails the extraction.
    """
    header = _JpegHeader()
    try:
        _walk_jpeg_header(path, header)
    except ExtractionFailed as err:
        if not header.holds_anything():
            raise
        header.notes.append(f"{err} The readings come from the segments before that point.")
    return header


def _walk_jpeg_header(path: Path, header: _JpegHeader) -> None:
    """Walk the segment markers up to the image data, keeping the segments this extractor reads.

    ExifRead's own search looks only at the first few kilobytes, so it misses an EXIF segment behind
    a large XMP or ICC segment; walking the markers finds it wherever the header puts it.
    """
    file_size = path.stat().st_size
    position = 2  # after the SOI marker
    with path.open("rb") as fh:
        for _ in range(MAX_JPEG_MARKERS):
            fh.seek(position)
            marker = fh.read(2)
            if len(marker) < 2:
                raise ExtractionFailed(
                    f"File is a truncated JPEG: it ends at byte {file_size:,}, inside its header, before any "
                    "image data."
                )
            if marker[0] != 0xFF:
                raise ExtractionFailed(
                    f"JPEG header is corrupt: expected a segment marker at byte {position:,} but found "
                    f"byte 0x{marker[0]:02X}."
                )
            kind = marker[1]
            if kind == 0xFF:  # fill byte before a marker
                position += 1
                continue
            if kind in (0xDA, 0xD9):  # start of scan, end of image: the header is over
                return
            if kind in (0x01, 0xD8) or 0xD0 <= kind <= 0xD7:  # markers without a length
                position += 2
                continue
            length = int.from_bytes(fh.read(2), "big")
            if length < 2:
                raise ExtractionFailed(
                    f"JPEG header is corrupt: the segment at byte {position:,} claims a length of {length} bytes."
                )
            if kind == 0xE1:
                _read_app1(fh, header, position, length, file_size)
            position += 2 + length
    raise ExtractionFailed(f"JPEG header is corrupt: more than {MAX_JPEG_MARKERS:,} markers before the image data.")


def _read_app1(fh: BinaryIO, header: _JpegHeader, position: int, length: int, file_size: int) -> None:
    """Keep the APP1 segment at `position` if it is the first EXIF or XMP segment, or one of FLIR's."""
    payload_at, payload_size = position + 4, length - 2
    head = fh.read(min(payload_size, len(xmp.JPEG_APP1_NAME)))
    if head.startswith(b"Exif\x00\x00"):
        if header.exif is None:
            fh.seek(payload_at + 6)
            header.exif = fh.read(payload_size - 6)
            if len(header.exif) < payload_size - 6:
                header.exif = None
                raise ExtractionFailed(
                    f"EXIF block is truncated: the file ends at byte {file_size:,}, inside the "
                    f"{length:,}-byte EXIF segment that starts at byte {position:,}."
                )
    elif head.startswith(xmp.JPEG_APP1_NAME):
        if header.xmp is None:
            fh.seek(payload_at)
            header.xmp = fh.read(payload_size)
    else:
        header.flir.add(head, payload_at, payload_size)


def _heif_tags(path: Path) -> dict[str, Any]:
    """ExifRead first; where it finds nothing, the EXIF item as libheif (pillow-heif) locates it.

    ExifRead reads only some HEIF layouts (major brand heic, avif or mif1, an EXIF item in one
    extent); libheif reads them all.
    """
    with suppress(*PARSE_ERRORS, ExtractionFailed), path.open("rb") as fh:
        if tags := _exifread(fh):
            return tags
    try:
        # open_heif reads the container, not the pixels; its info["exif"] is the block as stored
        # (the Pillow plugin's copy has its orientation reset to 1).
        block = pillow_heif.open_heif(path, convert_hdr_to_8bit=False).info.get("exif")
    except HEIF_ERRORS as err:
        raise ExtractionFailed(
            f"HEIF container is corrupt: neither ExifRead nor libheif can read it: {_reason(err)}"
        ) from err
    if not block:
        return {}
    return _tags_from_block(block[6:] if block.startswith(b"Exif\x00\x00") else block)


def _xmp_properties(find_packet: Callable[[], bytes | None], notes: list[str]) -> dict[str, str]:
    """The wanted XMP properties of the packet `find_packet` finds; {} with a note when it is unreadable."""
    try:
        packet = find_packet()
        return xmp.properties(packet) if packet else {}
    except xmp.XmpError as err:
        notes.append(str(err))
        return {}


def _flir_records(path: Path, header: _JpegHeader) -> FlirRecords | None:
    if not header.flir:
        return None
    with path.open("rb") as fh:
        try:
            records = header.flir.read_records(fh)
        except FlirError as err:
            header.notes.append(str(err))
            return None
    header.notes.extend(records.notes)
    return records


def _readings(
    tags: dict[str, Any],
    properties: dict[str, str],
    flir: FlirRecords | None,
    notes: list[str],
    *,
    png_time: _Moment | None = None,
) -> dict:
    captured = _capture_time(tags, properties, flir) or png_time or NO_MOMENT
    modified = _exif_time(tags, *MODIFIED_TIME_TAGS) or NO_MOMENT
    gps, gps_source = _gps(tags, properties, flir, notes)
    return {
        "make": _text(tags.get("Image Make")) or _xmp_text(properties, "tiff:Make"),
        "model": _text(tags.get("Image Model")) or _xmp_text(properties, "tiff:Model"),
        "software": _text(tags.get("Image Software")),
        "captured_at_raw": captured.raw,
        "captured_at_source": captured.source,
        "captured_at": captured.iso,
        "offset": captured.offset,
        "modified_at_raw": modified.raw,
        "modified_at": modified.iso,
        "gps": gps,
        "gps_source": gps_source,
        "orientation": _orientation(tags.get("Image Orientation")),
        "tags": _printable_tags(tags) | _xmp_tags(properties) | _flir_tags(flir),
        "notes": notes,
    }


def _capture_time(tags: dict[str, Any], properties: dict[str, str], flir: FlirRecords | None) -> _Moment | None:
    """The capture time of the best source that has one: EXIF, then XMP, then FLIR's CameraInfo."""
    for time_key, offset_key, sub_seconds_key in CAPTURE_TIME_TAGS:
        if found := _exif_time(tags, time_key, offset_key, sub_seconds_key):
            return found
    for name in XMP_CAPTURE_TIMES:
        if raw := properties.get(name):
            parts, fraction, offset = xmp.moment_parts(raw)
            iso = _iso_moment(parts, fraction, offset) if parts else None
            return _Moment(f"XMP {name}", raw, iso, offset if iso else None)
    if flir and (camera_time := flir.camera_time):
        iso = _iso_moment(camera_time.local.timetuple()[:6], camera_time.fraction, camera_time.offset)
        return _Moment("FLIR CameraInfo DateTimeOriginal", camera_time.exiftool_text(), iso, camera_time.offset)
    return None


def _exif_time(tags: dict[str, Any], time_key: str, offset_key: str, sub_seconds_key: str) -> _Moment | None:
    """One EXIF time (with its offset and sub-seconds), or None when the block does not have it."""
    # Some writers put the EXIF-IFD times in IFD0, where ExifRead names them "Image ...".
    for found_key in dict.fromkeys((time_key, time_key.replace("EXIF ", "Image "))):
        raw = _text(tags.get(found_key))
        if raw:
            offset = _utc_offset(tags.get(offset_key)) or _utc_offset(tags.get("EXIF OffsetTime"))
            sub_seconds = _text(tags.get(sub_seconds_key)) or ""
            fraction = sub_seconds if SUB_SECONDS.fullmatch(sub_seconds) else ""
            return _Moment(found_key, raw, _iso_time(raw, fraction, offset), offset)
    return None


def _utc_offset(tag: Any) -> str | None:
    text = _text(tag)
    return text if text and UTC_OFFSET.fullmatch(text) else None


def _iso_time(raw: str, fraction: str, offset: str | None) -> str | None:
    """ISO 8601 of an EXIF "YYYY:MM:DD HH:MM:SS"; None for placeholders such as all zeros."""
    match = EXIF_DATETIME.match(raw)
    return _iso_moment(tuple(int(part) for part in match.groups()), fraction, offset) if match else None


def _iso_moment(parts: tuple[int, ...], fraction: str, offset: str | None) -> str | None:
    """ISO 8601 of (year, month, day, hour, minute, second), sub-second digits and UTC offset; None if no date."""
    try:
        moment = datetime(*parts)
    except ValueError:
        return None
    fraction = f".{fraction[:ISO_FRACTION_DIGITS]}" if fraction else ""
    return moment.isoformat() + fraction + (offset or "")


def _gps(
    tags: dict[str, Any], properties: dict[str, str], flir: FlirRecords | None, notes: list[str]
) -> tuple[dict | None, str | None]:
    """(position, where it came from) of the best source that has one: EXIF, then XMP, then FLIR's GPSInfo."""
    if found := _exif_gps(tags):
        return found, "EXIF GPS"
    if found := _xmp_gps(properties):
        return found, "XMP exif:GPSLatitude/GPSLongitude"
    if flir and (position := flir.position):
        _note_flir_hemispheres(position, notes)
        found = {"latitude": position.latitude, "longitude": position.longitude, "altitude": position.altitude}
        return found, "FLIR GPSInfo"
    return None, None


def _xmp_text(properties: dict[str, str], name: str) -> str | None:
    return _clean(properties.get(name) or "").strip() or None


def _xmp_gps(properties: dict[str, str]) -> dict | None:
    latitude = xmp.coordinate(properties.get("exif:GPSLatitude"), "NS", 90)
    longitude = xmp.coordinate(properties.get("exif:GPSLongitude"), "EW", 180)
    if latitude is None or longitude is None:
        return None
    altitude = xmp.altitude(properties.get("exif:GPSAltitude"), properties.get("exif:GPSAltitudeRef"))
    return {"latitude": latitude, "longitude": longitude, "altitude": altitude}


def _note_flir_hemispheres(position: Position, notes: list[str]) -> None:
    """FLIR stores signed degrees and hemisphere letters both; where they disagree, the reviewer should know."""
    for axis, value, letter, hemispheres in (
        ("latitude", position.latitude, position.latitude_ref, "NS"),
        ("longitude", position.longitude, position.longitude_ref, "EW"),
    ):
        if value and letter in tuple(hemispheres) and (letter == hemispheres[1]) != (value < 0):
            notes.append(
                f"FLIR GPSInfo stores a {axis} of {value:.6f} but names its hemisphere {letter}; "
                "the value is kept as stored."
            )


def _xmp_tags(properties: dict[str, str]) -> dict[str, str]:
    return {f"XMP {name}": _clean(value) for name, value in properties.items()}


def _flir_tags(flir: FlirRecords | None) -> dict[str, str]:
    if flir is None:
        return {}
    tags = {}
    if flir.camera_time:
        tags["FLIR DateTimeOriginal"] = flir.camera_time.exiftool_text()
    if position := flir.position:
        tags |= {
            "FLIR GPSLatitude": str(position.latitude),
            "FLIR GPSLatitudeRef": position.latitude_ref,
            "FLIR GPSLongitude": str(position.longitude),
            "FLIR GPSLongitudeRef": position.longitude_ref,
            "FLIR GPSAltitude": str(position.altitude),
        }
    return {name: _clean(value) for name, value in tags.items()}


def _exif_gps(tags: dict[str, Any]) -> dict | None:
    """Signed decimal degrees exactly as the file records them: 0,0 stays 0,0."""
    latitude = _coordinate(tags.get("GPS GPSLatitude"), tags.get("GPS GPSLatitudeRef"), "NS", 90)
    longitude = _coordinate(tags.get("GPS GPSLongitude"), tags.get("GPS GPSLongitudeRef"), "EW", 180)
    if latitude is None or longitude is None:
        return None
    return {"latitude": latitude, "longitude": longitude, "altitude": _altitude(tags)}


def _coordinate(tag: Any, ref_tag: Any, hemispheres: str, limit: float) -> float | None:
    """Degrees from (degrees, minutes, seconds) and N/S or E/W.

    Like ExifTool: without a hemisphere reference there is no coordinate (the sign is unknown),
    and an undefined (n/0) minutes or seconds part counts as 0, as some writers store decimal
    minutes and 0/0 seconds. An undefined degrees part, or a value off the globe, is unreadable.
    """
    ref = (_text(ref_tag) or "").upper()[:1]
    values = _values(tag)
    if not ref or ref not in hemispheres or not values:
        return None
    parts = [_number(value) for value in values[:3]]
    if parts[0] is None:
        return None
    degrees = sum((part or 0.0) / 60**index for index, part in enumerate(parts))
    if abs(degrees) > limit:
        return None
    return -degrees if ref == hemispheres[1] else degrees


def _altitude(tags: dict[str, Any]) -> float | None:
    values = _values(tags.get("GPS GPSAltitude"))
    metres = _number(values[0]) if values else None
    if metres is None:
        return None
    ref = _values(tags.get("GPS GPSAltitudeRef"))
    below_sea_level = bool(ref) and ref[0] in (1, "1")
    return -metres if below_sea_level else metres


def _orientation(tag: Any) -> int | None:
    values = _values(tag)
    value = values[0] if values else None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _values(tag: Any) -> list:
    values = getattr(tag, "values", None)
    return values if isinstance(values, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, tuple) and value:  # ExifRead wraps float fields in 1-tuples
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        return None
    if isinstance(value, Fraction) and value.denominator == 0:  # ExifRead keeps n/0 as such
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(tag: Any) -> str | None:
    """A tag's string value, stripped; None when absent or blank."""
    if tag is None:
        return None
    value = getattr(tag, "values", None)
    if isinstance(value, bytes):  # ExifRead leaves strings that are not UTF-8 as bytes
        value = value.decode("latin-1")
    if not isinstance(value, str):
        value = str(getattr(tag, "printable", ""))
    return _clean(value).strip() or None


def _printable_tags(tags: dict[str, Any]) -> dict[str, str]:
    printable = {}
    for name, tag in tags.items():
        if not hasattr(tag, "printable"):  # thumbnails come back as raw bytes
            continue
        if tag.field_type in BLOB_TYPES and tag.field_length > MAX_BLOB_BYTES:
            continue
        printable[_clean(name)] = _clean(str(tag.printable))[:MAX_TAG_CHARS]
    return printable


def _clean(text: str) -> str:
    # PostgreSQL's jsonb cannot store NUL, and a NUL in a tag is padding, not content.
    return text.replace("\x00", "")


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    return f"{text} ({type(err).__name__})." if text else f"the parser stopped with {type(err).__name__}."


def _hex(data: bytes) -> str:
    return " ".join(f"{byte:02x}" for byte in data)
