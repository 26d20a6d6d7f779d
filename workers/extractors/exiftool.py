"""The exiftool extractor: ExifTool's reading of a photo or video, kept whole, with the desk's fields picked out.

ExifTool reads more containers and maker notes than any library the desk uses, so its reading is
the reference the other readers are compared with (the summary lists where they disagree), and the
reviewer sees every tag it found. It runs only where `exiftool` is installed (Debian:
libimage-exiftool-perl); the registry leaves it out otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

from workers.extractors import exiftool_session
from workers.extractors.base import ExtractionFailed, Unsupported

NAME = "exiftool"
VERSION = "1"
KINDS = frozenset({"photo", "video"})

EXIFTOOL_TIMEOUT_S = 30
# -G1: tags named by the group they came from ("ExifIFD:DateTimeOriginal"); -n: numbers, not prose;
# -struct: XMP structures as JSON; -a: duplicates too; -api LargeFileSupport: files over 2 GB.
COMMAND = ("exiftool", "-j", "-G1", "-n", "-a", "-struct", "-api", "LargeFileSupport=1", "-charset", "filename=utf8")
# ExifTool (12.57) defines the tags of these groups as it meets them and keeps the definitions for the next
# file it reads, which then reads differently (a C2PA claim's generator info read after another claim's
# comes out as one value, not a list): after a file with any, the session starts a fresh ExifTool.
STATEFUL_GROUPS = ("CBOR:", "JUMBF:")
# Groups that describe the file on disk, not what it says about itself.
LOCAL_GROUPS = ("System:", "ExifTool:", "SourceFile")

MAKE_TAGS = ("IFD0:Make", "Keys:Make", "UserData:Make", "ItemList:Make", "XMP-tiff:Make", "PNG:Make")
MODEL_TAGS = ("IFD0:Model", "Keys:Model", "UserData:Model", "ItemList:Model", "XMP-tiff:Model", "PNG:Model")
SOFTWARE_TAGS = ("IFD0:Software", "Keys:Software", "UserData:Software", "XMP-xmp:CreatorTool", "PNG:Software")
# Capture times in the order the desk trusts them: the camera's EXIF, then XMP, then the container's
# own (Apple's Keys, the item list, user data; the movie header last, which is UTC by definition),
# then PNG's text chunk. A time kept only in maker notes comes after all of them.
CAPTURE_TIMES = (
    ("Composite:SubSecDateTimeOriginal", None),
    ("ExifIFD:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal"),
    ("IFD0:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal"),
    ("Composite:SubSecCreateDate", None),
    ("ExifIFD:CreateDate", "ExifIFD:OffsetTimeDigitized"),
    ("XMP-exif:DateTimeOriginal", None),
    ("XMP-xmp:CreateDate", None),
    ("XMP-photoshop:DateCreated", None),
    ("Keys:CreationDate", None),
    ("UserData:DateTimeOriginal", None),
    ("ItemList:ContentCreateDate", None),
    ("UserData:CreateDate", None),
    ("QuickTime:CreateDate", None),
    ("PNG:CreationTime", None),
    ("FLIR:DateTimeOriginal", None),
)
# The movie header's time is UTC (ISO/IEC 14496-12), though ExifTool prints it without a zone.
UTC_TAGS = frozenset({"QuickTime:CreateDate"})
# Maker-note time tags ExifTool decodes, by name, in whichever maker's group they appear.
MAKER_NOTE_TIMES = ("DateTimeOriginal", "SonyDateTime", "SonyDateTime2", "TimeStamp", "DateTimeStamp", "DateTime")
NOT_MAKER_GROUPS = frozenset(
    {"IFD0", "IFD1", "ExifIFD", "GPS", "Composite", "File", "System", "ExifTool", "QuickTime", "Keys", "UserData"}
    | {"ItemList", "PNG", "ICC_Profile", "ICC-header", "JFIF", "Track1", "Track2", "Track3", "FLIR", "IPTC"}
)

TIME = re.compile(r"(\d{4}):(\d\d):(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?")


def available() -> bool:
    return shutil.which(COMMAND[0]) is not None


def extract(path: Path, artifacts_dir: Path) -> dict:
    """ExifTool's JSON for the file, and the make, model, software, capture time and GPS it reads."""
    tags = run_exiftool(path)
    if tags.get("File:FileType") == "TXT":
        raise Unsupported(f"ExifTool reads this file as text ({_text_kind(tags)}), not a photo or video.")
    if error := tags.get("ExifTool:Error"):
        if "unknown file type" in str(error).lower() or "not supported" in str(error).lower():
            raise Unsupported(_sentence(f"ExifTool does not read this kind of file: {error}"))
        raise ExtractionFailed(_sentence(f"ExifTool could not read the file: {error}"))
    return readings(tags)


def readings(tags: dict) -> dict:
    """The desk's fields picked out of ExifTool's tags of one file, with the tags themselves."""
    captured, source = capture_time(tags)
    return {
        "make": _first(tags, MAKE_TAGS),
        "model": _first(tags, MODEL_TAGS),
        "software": _first(tags, SOFTWARE_TAGS),
        "captured_at": captured,
        "captured_at_source": source,
        "gps": gps(tags),
        "duration": _number(tags.get("Composite:Duration") or tags.get("QuickTime:Duration")),
        "warnings": [str(tags[key]) for key in tags if key.endswith(":Warning")],
        "tags": {key: value for key, value in tags.items() if not key.startswith(LOCAL_GROUPS)},
    }


def run_exiftool(path: Path) -> dict:
    """ExifTool's tags of the file, or ExtractionFailed saying why there are none."""
    target = str(Path(path).resolve())  # absolute, so never taken for an option
    try:
        if "\n" in target:
            # The session's argument pipe takes one argument a line.
            completed = subprocess.run(  # noqa: S603
                [*COMMAND, "--", target], capture_output=True, timeout=EXIFTOOL_TIMEOUT_S, check=False
            )
            stdout, stderr = completed.stdout, completed.stderr
        else:
            answer = exiftool_session.session.read([*COMMAND[1:], target], timeout=EXIFTOOL_TIMEOUT_S)
            stdout, stderr = answer.stdout, answer.stderr
            if any(f'"{group}'.encode() in stdout for group in STATEFUL_GROUPS):
                exiftool_session.session.stop()
    except FileNotFoundError as error:
        raise ExtractionFailed("exiftool is not installed (Debian: libimage-exiftool-perl).") from error
    except (subprocess.TimeoutExpired, exiftool_session.SessionTimeout) as error:
        raise ExtractionFailed(f"exiftool gave up after {EXIFTOOL_TIMEOUT_S} s without finishing the file.") from error
    except OSError as error:
        raise ExtractionFailed(f"exiftool stopped while reading the file ({error}).") from error
    try:
        found = json.loads(stdout.decode("utf-8", errors="replace") or "[]")
    except json.JSONDecodeError as error:
        raise ExtractionFailed(f"exiftool's output could not be read as JSON ({error.msg}).") from error
    if not found or not isinstance(found[0], dict):
        reason = stderr.decode("utf-8", errors="replace").strip() or "no output"
        raise ExtractionFailed(_sentence(f"exiftool read nothing from the file: {reason}"))
    return {key: _storable(value) for key, value in found[0].items()}


def capture_time(tags: dict) -> tuple[str | None, str | None]:
    """(ISO 8601 capture time with its zone when recorded, the tag it came from)."""
    for name, offset_name in CAPTURE_TIMES:
        if iso := iso_time(tags.get(name), tags.get(offset_name) if offset_name else None, utc=name in UTC_TAGS):
            return iso, name
    for name, value in tags.items():
        group, _, tag = name.partition(":")
        maker_note = group not in NOT_MAKER_GROUPS and not group.startswith("XMP") and tag in MAKER_NOTE_TIMES
        if maker_note and (iso := iso_time(value, None)):
            return iso, name
    return None, None


def iso_time(value: object, offset: object, *, utc: bool = False) -> str | None:
    """ISO 8601 of an ExifTool time ("2021:03:04 05:06:07.12+02:00"); None for blanks and zero dates."""
    match = TIME.match(str(value or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    zone = zone or _zone(offset) or ("+00:00" if utc else None)
    if zone == "Z":
        zone = "+00:00"
    elif zone and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return moment.isoformat() + (fraction or "")[:7] + (zone or "")


def _zone(offset: object) -> str | None:
    text = str(offset or "").strip()
    return text if re.fullmatch(r"[+-]\d\d:\d\d", text) else None


def gps(tags: dict) -> dict | None:
    """Signed decimal degrees as ExifTool's Composite tags give them, else its GPS or XMP tags."""
    # A FLIR camera's GPSInfo holds signed degrees already, as does XMP's.
    for prefix in ("Composite:", "GPS:", "XMP-exif:", "FLIR:"):
        latitude = _number(tags.get(f"{prefix}GPSLatitude"))
        longitude = _number(tags.get(f"{prefix}GPSLongitude"))
        if latitude is not None and longitude is not None:
            if prefix == "GPS:":  # without the Composite tag, the hemisphere is the Ref tag's
                latitude *= -1 if str(tags.get("GPS:GPSLatitudeRef", "")).upper().startswith("S") else 1
                longitude *= -1 if str(tags.get("GPS:GPSLongitudeRef", "")).upper().startswith("W") else 1
            altitude = _number(tags.get(f"{prefix}GPSAltitude"))
            return {"latitude": latitude, "longitude": longitude, "altitude": altitude}
    return None


def _text_kind(tags: dict) -> str:
    lines = tags.get("File:LineCount")
    encoding = tags.get("File:MIMEEncoding") or "unknown encoding"
    return f"{encoding}, {lines} line{'s' if lines != 1 else ''}" if lines is not None else encoding


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith(".") else f"{text}."


def _first(tags: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = str(tags.get(name, "")).strip()
        if value:
            return value
    return None


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if abs(number) != float("inf") and number == number else None


def _storable(value: object) -> object:
    # PostgreSQL's jsonb cannot store NUL; ExifTool passes some padded strings through.
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_storable(each) for each in value]
    if isinstance(value, dict):
        return {key: _storable(each) for key, each in value.items()}
    return value
