"""EXIF blocks and capture times that Pillow finds in WebP and PNG files, where ExifRead does not look.

ExifRead reads a WebP's EXIF chunk only in some layouts and a PNG's only from its eXIf chunk; Pillow
also reads WebP's VP8X layout and ImageMagick's "Raw profile type exif" text chunks, and keeps a
PNG's tEXt and iTXt chunks, among them the "Creation Time" ExifTool reads. Pillow reads the chunks,
never the pixels, here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# What Pillow raises on a container it cannot read (its own SyntaxError for a broken chunk among them).
PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError, Image.DecompressionBombError)
RAW_PROFILE = re.compile(r"\s*\w*\s*(\d+)\s*([0-9a-fA-F\s]+)")
EXIF_STYLE_TIME = re.compile(r"\d{4}[:-]\d{2}[:-]\d{2}[ T]\d{2}:\d{2}:\d{2}")
PNG_TIME_KEYS = ("Creation Time", "CreationTime")


class ContainerError(Exception):
    """Pillow could not read the file's chunks; the message says why, for a reviewer."""


@dataclass
class Chunks:
    exif: bytes | None  # the TIFF block of the EXIF, without any "Exif\0\0" prefix
    creation_time: str | None  # a PNG's "Creation Time" text, as stored


def read_chunks(path: Path) -> Chunks:
    try:
        # Opening reads the chunks before the image data; nothing is decoded. (Chunks after the image
        # data are left out: reaching them would mean decoding it.)
        with Image.open(path) as picture:
            info = dict(picture.info)
    except PILLOW_ERRORS as err:
        raise ContainerError(f"Pillow could not read the file's chunks: {err} ({type(err).__name__}).") from err
    return Chunks(exif=_exif_block(info), creation_time=_creation_time(info))


def _exif_block(info: dict) -> bytes | None:
    block = info.get("exif")
    if isinstance(block, bytes) and block:
        return block[6:] if block.startswith(b"Exif\x00\x00") else block
    for key in ("Raw profile type exif", "Raw profile type APP1"):
        text = info.get(key)
        if isinstance(text, str) and (match := RAW_PROFILE.match(text)):
            try:
                block = bytes.fromhex("".join(match.group(2).split()))
            except ValueError:
                continue
            return block[6:] if block.startswith(b"Exif\x00\x00") else block
    return None


def _creation_time(info: dict) -> str | None:
    for key in PNG_TIME_KEYS:
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def png_time_as_exif(text: str) -> str | None:
    """A PNG "Creation Time" as "YYYY:MM:DD HH:MM:SS" plus its zone, from EXIF's or RFC 1123's spelling."""
    if EXIF_STYLE_TIME.match(text):
        return text
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    zone = moment.strftime("%z")
    return moment.strftime("%Y:%m:%d %H:%M:%S") + (f"{zone[:3]}:{zone[3:]}" if zone else "")
