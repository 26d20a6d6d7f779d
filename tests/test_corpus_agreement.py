"""What the desk reads from real files agrees with ExifTool's and c2pa-python's reference readings.

Where ExifTool and the file disagree about the world (GPS 0,0; a Los Angeles photo with
a positive longitude), the reference keeps what the file says, and so do we.
"""

import re
from pathlib import Path

import pytest

from workers.extractors import extractors_for
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.summary import summarise
from workers.filetype import SNIFF_BYTES, sniff

GPS_TOLERANCE = 1e-4
READERS = ("exif", "image", "video", "c2pa")


def read(path: Path, artifacts: Path) -> tuple[dict, dict]:
    """The file's results per reader, and its normalised summary."""
    kind = sniff(path.read_bytes()[:SNIFF_BYTES]).kind
    results = {}
    for module in extractors_for(kind):
        if module.NAME not in READERS:
            continue
        try:
            results[module.NAME] = module.extract(path, artifacts)
        except (Unsupported, ExtractionFailed) as exc:
            results[module.NAME] = {"error": str(exc)}
    return results, summarise(results)


def normalise_time(text: str | None) -> tuple[str, str] | None:
    """(date and time to the second, UTC offset or '') from ExifTool's or ISO 8601 spelling."""
    if not text:
        return None
    match = re.match(r"(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?", text)
    assert match, f"unreadable time {text!r}"
    offset = (match.group(5) or "").replace("Z", "+00:00")
    if offset and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}T{match.group(4)}", offset


@pytest.fixture(scope="module")
def readings(corpus, corpus_expected, tmp_path_factory):
    out = {}
    for key in corpus_expected:
        artifacts = tmp_path_factory.mktemp("artifacts")
        out[key] = read(corpus / key, artifacts)
    return out


def test_it_covers_every_reference_file(corpus, corpus_expected):
    on_disk = {f"{folder}/{p.name}" for folder in ("photos", "video", "c2pa") for p in (corpus / folder).iterdir()}
    assert on_disk == set(corpus_expected)


@pytest.mark.parametrize("field", ["make", "model"])
def test_it_reads_the_same_device(readings, corpus_expected, field):
    wrong = {}
    for key, expected in corpus_expected.items():
        results, _ = readings[key]
        found = (results.get("exif") or {}).get(field) or (results.get("video") or {}).get(field)
        if found != expected[field]:
            wrong[key] = (found, expected[field])
    assert not wrong


def test_it_reads_the_same_capture_time(readings, corpus_expected):
    wrong = {}
    for key, expected in corpus_expected.items():
        found = normalise_time(readings[key][1]["captured_at_text"])
        wanted = normalise_time(expected["captured"])
        if wanted is None or found is None:
            ok = found == wanted
        else:
            # The offset must agree when the reference has one.
            ok = found[0] == wanted[0] and (not wanted[1] or found[1] == wanted[1])
        if not ok:
            wrong[key] = (found, wanted)
    assert not wrong


def test_it_reads_the_same_gps_as_the_file_states_it(readings, corpus_expected):
    wrong = {}
    for key, expected in corpus_expected.items():
        summary = readings[key][1]
        found = (summary["gps_latitude"], summary["gps_longitude"])
        wanted = (expected["gps_lat"], expected["gps_lon"])
        if None in wanted or None in found:
            ok = found == wanted
        else:
            ok = all(abs(f - w) <= GPS_TOLERANCE for f, w in zip(found, wanted, strict=True))
        if not ok:
            wrong[key] = (found, wanted)
    assert not wrong


def test_it_reads_the_same_dimensions_and_duration(readings, corpus_expected):
    wrong = {}
    for key, expected in corpus_expected.items():
        summary = readings[key][1]
        if (summary["width"], summary["height"]) != (expected["width"], expected["height"]):
            wrong[key] = ("size", summary["width"], summary["height"], expected["width"], expected["height"])
        wanted, found = expected["duration_s"], summary["duration"]
        if (wanted is None) != (found is None) or (wanted is not None and abs(found - wanted) > 0.01):
            wrong[key] = ("duration", found, wanted)
    assert not wrong


def test_it_reads_the_same_content_credentials(readings, corpus_expected):
    wrong = {}
    for key, expected in corpus_expected.items():
        c2pa = readings[key][0].get("c2pa") or {}
        reference = expected.get("c2pa") or {}
        if "manifest" not in reference:
            continue
        found = (c2pa.get("present"), c2pa.get("validation_state") if c2pa.get("present") else None)
        wanted = (reference["manifest"], reference.get("validation_state"))
        if found != wanted:
            wrong[key] = (found, wanted)
    assert not wrong
