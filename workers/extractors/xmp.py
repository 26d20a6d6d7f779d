"""XMP packets for the exif extractor: where one is in a file, and the few properties the desk reads from it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

# A JPEG's XMP segment starts with this name; the packet follows it.
JPEG_APP1_NAME = b"http://ns.adobe.com/xap/1.0/\x00"
# Where other containers (TIFF, HEIF, PNG, WebP) are searched for a packet, and how large one may be:
# real packets are a few kilobytes, Photoshop's largest a few hundred.
SCAN_BYTES = 4 * 1024 * 1024
MAX_PACKET_BYTES = 2 * 1024 * 1024
# RDF nests a handful of levels deep; a packet nested deeper than this is built to exhaust the reader.
MAX_DEPTH = 64
MAX_VALUE_CHARS = 200
FEED_BYTES = 64 * 1024

PACKET_STARTS = (b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:RDF")
PACKET_ENDS = (b"</x:xmpmeta>", b"</x:xapmeta>", b"</rdf:RDF>")
# Either wrapper (x:xapmeta is XMP's spelling before 2002); one pass over megabytes, not two.
WRAPPER_START = re.compile(rb"<x:x[am]pmeta")

NAMESPACES = {
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
}
# The properties read, by ElementTree's "{namespace}name", as "prefix:name".
WANTED = {
    f"{{{NAMESPACES[prefix]}}}{name}": f"{prefix}:{name}"
    for prefix, name in (
        ("exif", "DateTimeOriginal"),
        ("xmp", "CreateDate"),
        ("photoshop", "DateCreated"),
        ("exif", "GPSLatitude"),
        ("exif", "GPSLongitude"),
        ("exif", "GPSAltitude"),
        ("exif", "GPSAltitudeRef"),
        ("tiff", "Make"),
        ("tiff", "Model"),
    )
}
RDF_LI = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}li"

XMP_DATE = re.compile(
    r"(\d{4})[-:](\d{2})[-:](\d{2})"  # date
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"  # time; XMP allows leaving out the seconds
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
# exif:GPSAltitude: "1234/10" or "123.4", short enough that no number in it is huge.
XMP_RATIONAL = re.compile(r"(\d{1,12}(?:\.\d{1,12})?)(?:/(\d{1,12}))?")
# "34,4.525571N" (degrees, decimal minutes) or "34,4,31.53N" (degrees, minutes, seconds).
XMP_COORDINATE = re.compile(r"(\d{1,3}),\s*(\d{1,2}(?:\.\d+)?)(?:,\s*(\d{1,2}(?:\.\d+)?))?\s*([NSEW])", re.IGNORECASE)


class XmpError(ValueError):
    """The XMP packet cannot be read; the message says why, for a reviewer."""


def packet_from_app1(payload: bytes | None) -> bytes | None:
    """The packet in a JPEG APP1 segment's payload, or None when there is no segment or it is not XMP."""
    if payload is None or not payload.startswith(JPEG_APP1_NAME):
        return None
    return _cut_packet(payload[len(JPEG_APP1_NAME) :], where="in the JPEG's XMP segment")


def packet_in_file(path: Path) -> bytes | None:
    """The first packet in the file's first SCAN_BYTES, as TIFF, HEIF, PNG and WebP store it uncompressed."""
    with path.open("rb") as fh:
        found = WRAPPER_START.search(fh.read(SCAN_BYTES))
        if not found:
            return None
        start = found.start()
        fh.seek(start)
        return _cut_packet(fh.read(MAX_PACKET_BYTES + len(PACKET_ENDS[0])), where=f"at byte {start:,}")


def _cut_packet(data: bytes, *, where: str) -> bytes | None:
    """From the x:xmpmeta (or bare rdf:RDF) start tag to its end tag: writers pad around it with NULs."""
    for start_tag, end_tag in zip(PACKET_STARTS, PACKET_ENDS, strict=True):
        start = data.find(start_tag)
        if start < 0:
            continue
        end = data.find(end_tag, start)
        if end < 0 or end + len(end_tag) - start > MAX_PACKET_BYTES:
            raise XmpError(
                f"The XMP packet {where} has no end within {MAX_PACKET_BYTES:,} bytes; its values are ignored."
            )
        return data[start : end + len(end_tag)]
    return None


def properties(packet: bytes) -> dict[str, str]:
    """The wanted properties the packet states, {"xmp:CreateDate": "2005-09-07T15:07:40-07:00", ...}.

    Both RDF spellings count: as an attribute of rdf:Description, or as an element whose text (or
    whose first rdf:li's text) is the value. The first value of a property wins.
    """
    # The packet starts at its root element, so any DTD before it is left out: no entity can be declared,
    # and a reference to one is a ParseError rather than an expansion into gigabytes. ElementTree fetches
    # nothing external.
    found: dict[str, str] = {}
    open_tags: list[str] = []
    parser = ET.XMLPullParser(events=("start", "end"))
    try:
        for offset in range(0, len(packet), FEED_BYTES):
            parser.feed(packet[offset : offset + FEED_BYTES])
            _collect(parser, open_tags, found)
        parser.close()
        _collect(parser, open_tags, found)
    except ET.ParseError as err:
        raise XmpError(f"The XMP packet is not well-formed XML ({err}); its values are ignored.") from err
    return found


def _collect(parser: ET.XMLPullParser, open_tags: list[str], found: dict[str, str]) -> None:
    for event, element in parser.read_events():
        if event == "start":
            open_tags.append(element.tag)
            if len(open_tags) > MAX_DEPTH:
                raise XmpError(f"The XMP packet nests more than {MAX_DEPTH} elements deep; its values are ignored.")
            for name, value in element.attrib.items():
                _keep(found, name, value)
            continue
        open_tags.pop()
        if element.tag in WANTED:
            _keep(found, element.tag, element.text)
        elif element.tag == RDF_LI and open_tags:
            # An rdf:Seq or rdf:Alt inside the property: its first item is the value.
            _keep(found, open_tags[-2] if len(open_tags) > 1 else "", element.text)
        element.clear()  # what was read is no longer needed; keeps a large packet's tree small


def _keep(found: dict[str, str], tag: str, text: str | None) -> None:
    name = WANTED.get(tag)
    value = (text or "").strip()
    if name and value and name not in found:
        found[name] = value[:MAX_VALUE_CHARS]


def moment_parts(text: str) -> tuple[tuple[int, ...] | None, str, str | None]:
    """((year, month, day, hour, minute, second) or None, fraction digits, UTC offset) of an XMP date.

    A date without a time of day is no moment (None); "Z" is the offset +00:00.
    """
    match = XMP_DATE.fullmatch(text.strip())
    if not match or match.group(4) is None:
        return None, "", None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    parts = tuple(int(part or 0) for part in (year, month, day, hour, minute, second))
    if offset == "Z":
        offset = "+00:00"
    elif offset and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    return parts, fraction or "", offset


def coordinate(text: str | None, hemispheres: str, limit: float) -> float | None:
    """Signed degrees of an XMP GPS coordinate; None when unreadable or in the wrong hemisphere pair."""
    match = XMP_COORDINATE.fullmatch((text or "").strip())
    if not match:
        return None
    degrees, minutes, seconds, hemisphere = match.groups()
    value = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
    hemisphere = hemisphere.upper()
    if hemisphere not in hemispheres or value > limit:
        return None
    return -value if hemisphere == hemispheres[1] else value


def altitude(text: str | None, ref: str | None) -> float | None:
    """Metres of exif:GPSAltitude ("1234/10"), negative when exif:GPSAltitudeRef is 1 (below sea level)."""
    match = XMP_RATIONAL.fullmatch((text or "").strip())
    if not match or int(match.group(2) or 1) == 0:
        return None
    metres = float(Fraction(match.group(1))) / int(match.group(2) or 1)
    return -metres if (ref or "").strip() == "1" else metres
