"""FLIR thermal cameras' own records for the exif extractor: capture time and GPS from a JPEG's "FLIR" segments.

FLIR cameras and phone add-ons store an FFF file split over APP1 segments, and keep the capture time
and position there rather than in EXIF. The layout, as ExifTool's FLIR module documents it:

    APP1 segment   "FLIR\\0", a format byte, this segment's index, the last segment's index; then data
    FFF header     "FFF\\0", creator; at 0x14 format version (100-199, which also gives the byte order),
                   0x18 offset of the record directory, 0x1c number of entries
    directory      0x20 bytes an entry: 0x00 record type (int16u), 0x0c record offset, 0x10 record length
    CameraInfo     record 0x20; its first int16u is 2 in its own byte order; at 0x384 a time_t (int32u),
                   0x388 milliseconds (low 16 bits of an int32u), 0x38c minutes west of UTC (int16s)
    GPSInfo        record 0x2b, little-endian: 0x00 valid (int32u), 0x08 and 0x0a hemisphere letters,
                   0x10 latitude and 0x18 longitude (signed doubles), 0x20 altitude in metres (float)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import BinaryIO

SEGMENT_NAME = b"FLIR\x00"
SEGMENT_HEADER_BYTES = 8
FFF_HEADER_BYTES = 0x40
DIRECTORY_ENTRY_BYTES = 0x20
# Cameras write a dozen or two records; a directory claiming more is not one.
MAX_RECORDS = 1024
CAMERA_INFO = 0x20
GPS_INFO = 0x2B
CAMERA_TIME_AT = 0x384
CAMERA_TIME_BYTES = 10
GPS_BYTES = 0x24
UNIX_EPOCH = datetime(1970, 1, 1)
# Python's (and the world's) UTC offsets stay within a day.
MAX_OFFSET_MINUTES = 24 * 60 - 1


class FlirError(ValueError):
    """The FLIR records cannot be read; the message says why, for a reviewer."""


@dataclass(frozen=True)
class CameraTime:
    """CameraInfo's DateTimeOriginal: local wall-clock time, with its milliseconds and UTC offset."""

    local: datetime
    milliseconds: int | None
    utc_offset_minutes: int

    @property
    def offset(self) -> str:
        sign = "-" if self.utc_offset_minutes < 0 else "+"
        hours, minutes = divmod(abs(self.utc_offset_minutes), 60)
        return f"{sign}{hours:02d}:{minutes:02d}"

    @property
    def fraction(self) -> str:
        return "" if self.milliseconds is None else f"{self.milliseconds:03d}"

    def exiftool_text(self) -> str:
        """As ExifTool prints it: "2021:05:16 12:27:36.107-07:00"."""
        fraction = f".{self.fraction}" if self.fraction else ""
        return f"{self.local:%Y:%m:%d %H:%M:%S}{fraction}{self.offset}"


@dataclass(frozen=True)
class Position:
    """GPSInfo's coordinates as stored (signed degrees), with the hemisphere letters stored beside them."""

    latitude: float
    longitude: float
    altitude: float | None
    latitude_ref: str
    longitude_ref: str


@dataclass
class FlirRecords:
    """What the FFF data records, with a note for each record that could not be read."""

    camera_time: CameraTime | None = None
    position: Position | None = None
    notes: list[str] = field(default_factory=list)


class FlirSegments:
    """The FLIR APP1 segments of one JPEG, gathered while its header is walked."""

    def __init__(self) -> None:
        self._parts: dict[int, tuple[int, int]] = {}
        self._last: int | None = None

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, head: bytes, position: int, length: int) -> bool:
        """Keep the segment whose payload starts with `head` at `position`; False when it is not FLIR's."""
        if not head.startswith(SEGMENT_NAME) or len(head) < SEGMENT_HEADER_BYTES or length < SEGMENT_HEADER_BYTES:
            return False
        index, last = head[6], head[7]
        if self._last is None:
            self._last = last
        self._parts.setdefault(index, (position + SEGMENT_HEADER_BYTES, length - SEGMENT_HEADER_BYTES))
        return True

    def read_records(self, fh: BinaryIO) -> FlirRecords:
        """The capture time and position the FFF data records; FlirError when it cannot be read at all."""
        last = self._last or 0
        missing = [index for index in range(last + 1) if index not in self._parts]
        if missing:
            raise FlirError(
                f"The FLIR data is incomplete: segment {missing[0] + 1} of {last + 1} is missing; "
                "its records are ignored."
            )
        return _read_fff(_FffData(fh, [self._parts[index] for index in range(last + 1)]))


class _FffData:
    """The FFF data as the segments split it, read at offsets into the whole."""

    def __init__(self, fh: BinaryIO, parts: list[tuple[int, int]]) -> None:
        self._fh = fh
        self._parts = parts

    def read(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset`; fewer where the data (or the file) ends first."""
        pieces = []
        part_start = 0
        for position, length in self._parts:
            low, high = max(offset, part_start), min(offset + size, part_start + length)
            if low < high:
                self._fh.seek(position + low - part_start)
                piece = self._fh.read(high - low)
                pieces.append(piece)
                if len(piece) < high - low:  # the file ends inside this segment
                    break
            part_start += length
            if part_start >= offset + size:
                break
        return b"".join(pieces)


def _read_fff(data: _FffData) -> FlirRecords:
    header = data.read(0, FFF_HEADER_BYTES)
    if len(header) < FFF_HEADER_BYTES or not header.startswith(b"FFF\x00"):
        raise FlirError(
            f"The FLIR segments do not hold FFF data (they start with bytes {header[:8].hex(' ')}); "
            "their records are ignored."
        )
    order = _byte_order(header)
    directory_at, count = struct.unpack_from(order + "II", header, 0x18)
    if count > MAX_RECORDS:
        raise FlirError(f"The FLIR record directory claims {count:,} records; its records are ignored.")
    directory = data.read(directory_at, count * DIRECTORY_ENTRY_BYTES)
    if len(directory) < count * DIRECTORY_ENTRY_BYTES:
        raise FlirError("The FLIR record directory is truncated; its records are ignored.")
    found = _record_places(directory, order, count)
    records = FlirRecords()
    if CAMERA_INFO in found:
        record = _read_record(data, found[CAMERA_INFO], CAMERA_TIME_AT + CAMERA_TIME_BYTES)
        records.camera_time = _camera_time(record, order, records)
    if GPS_INFO in found:
        records.position = _position(_read_record(data, found[GPS_INFO], GPS_BYTES), records)
    return records


def _read_record(data: _FffData, place: tuple[int, int], needed: int) -> bytes:
    """The first `needed` bytes of a record (fewer when the record or the data is shorter)."""
    offset, length = place
    return data.read(offset, min(length, needed))


def _byte_order(header: bytes) -> str:
    """The struct byte order (">" or "<") that reads the format version as 100-199; FLIR JPEGs use ">"."""
    for order in (">", "<"):
        (version,) = struct.unpack_from(order + "I", header, 0x14)
        if 100 <= version < 200:
            return order
    raise FlirError("The FLIR data is of an FFF version this reader does not know; its records are ignored.")


def _record_places(directory: bytes, order: str, count: int) -> dict[int, tuple[int, int]]:
    """{record type: (offset, length)} of the first record of each type."""
    places: dict[int, tuple[int, int]] = {}
    for index in range(count):
        entry = index * DIRECTORY_ENTRY_BYTES
        (kind,) = struct.unpack_from(order + "H", directory, entry)
        offset, length = struct.unpack_from(order + "II", directory, entry + 0x0C)
        if kind:
            places.setdefault(kind, (offset, length))
    return places


def _camera_time(record: bytes, order: str, records: FlirRecords) -> CameraTime | None:
    if len(record) < CAMERA_TIME_AT + CAMERA_TIME_BYTES:
        records.notes.append("The FLIR CameraInfo record is too short to hold a capture time.")
        return None
    (marker,) = struct.unpack_from(order + "H", record, 0)
    if marker >= 0x100:  # the record is in the other byte order
        order = "<" if order == ">" else ">"
    seconds, milliseconds = struct.unpack_from(order + "II", record, CAMERA_TIME_AT)
    (minutes_west,) = struct.unpack_from(order + "h", record, CAMERA_TIME_AT + 8)
    if seconds == 0:  # the camera's clock was never set
        return None
    if abs(minutes_west) > MAX_OFFSET_MINUTES:
        records.notes.append(f"The FLIR capture time has an impossible UTC offset of {-minutes_west} minutes.")
        return None
    milliseconds &= 0xFFFF
    return CameraTime(
        local=UNIX_EPOCH + timedelta(seconds=seconds - minutes_west * 60),
        milliseconds=milliseconds if milliseconds < 1000 else None,
        utc_offset_minutes=-minutes_west,
    )


def _position(record: bytes, records: FlirRecords) -> Position | None:
    if len(record) < GPS_BYTES:
        records.notes.append("The FLIR GPSInfo record is too short to hold a position.")
        return None
    valid, latitude_ref, longitude_ref = struct.unpack_from("<I4x2s2s", record, 0)
    if not valid:  # no fix when the photo was taken
        return None
    latitude, longitude, altitude = struct.unpack_from("<ddf", record, 0x10)
    if not (math.isfinite(latitude) and math.isfinite(longitude)) or abs(latitude) > 90 or abs(longitude) > 180:
        records.notes.append(f"The FLIR GPSInfo record holds an impossible position ({latitude}, {longitude}).")
        return None
    return Position(
        latitude=latitude,
        longitude=longitude,
        altitude=altitude if math.isfinite(altitude) else None,
        latitude_ref=_letter(latitude_ref),
        longitude_ref=_letter(longitude_ref),
    )


def _letter(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()
