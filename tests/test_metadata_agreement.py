"""The desk's own readers (exif, video) read make, model, capture time (with zone) and GPS as ExifTool does.

Over a corpus generated at test time (every format desks receive, with known values written by
`exiftool` where cameras, phones and editors keep them) and the shared corpus of real files. The
agreement per format and field is printed at the end of the run, and must be at least 99%.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests import metadata_corpus
from workers.extractors import exif, exiftool, video
from workers.extractors.base import ExtractionFailed, Unsupported
from workers.extractors.summary import disagreements, summarise

FIELDS = ("make", "model", "captured_at", "gps")
REQUIRED_AGREEMENT = 0.99
GPS_TOLERANCE = 1e-4
VIDEO_SUFFIXES = {".mp4": "mp4", ".mov": "mov", ".3gp": "3gp"}
PHOTO_SUFFIXES = {".jpg": "jpeg", ".jpeg": "jpeg", ".heic": "heic", ".heif": "heic", ".tiff": "tiff", ".tif": "tiff"}
PHOTO_SUFFIXES |= {".png": "png", ".webp": "webp", ".avif": "avif"}
TIME = re.compile(r"(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?")


@pytest.fixture(scope="session")
def exiftool_installed() -> None:
    if not exiftool.available():
        if os.getenv("VERIFY_REQUIRE_CORPUS") == "1":
            pytest.fail("exiftool is not installed (Debian: libimage-exiftool-perl) and VERIFY_REQUIRE_CORPUS=1")
        pytest.skip("exiftool is not installed")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")


@pytest.fixture(scope="session")
def generated(exiftool_installed, tmp_path_factory) -> list[metadata_corpus.Sample]:
    return metadata_corpus.build(tmp_path_factory.mktemp("generated-corpus"))


@pytest.fixture(scope="session")
def real_files(corpus) -> list[Path]:
    return sorted(p for folder in ("photos", "video", "c2pa") for p in (corpus / folder).iterdir())


def own_reading(path: Path, artifacts: Path) -> dict:
    """The desk's own readers' fields for the file, as the summary would take them."""
    module = video if path.suffix.lower() in VIDEO_SUFFIXES else exif
    try:
        result = module.extract(path, artifacts)
    except (ExtractionFailed, Unsupported):
        result = {}
    summary = summarise({module.NAME: result})
    gps = None if summary["gps_latitude"] is None else (summary["gps_latitude"], summary["gps_longitude"])
    return {
        "make": result.get("make"),
        "model": result.get("model"),
        "captured_at": summary["captured_at_text"] or None,
        "gps": gps,
    }


_EXIFTOOL_READINGS: dict[Path, dict] = {}


def read_all_with_exiftool(paths: list[Path]) -> None:
    """ExifTool's readings of many files in one run (one Perl start), as the exiftool reader picks them out."""
    completed = subprocess.run(  # noqa: S603
        [*exiftool.COMMAND, *map(str, paths)], capture_output=True, timeout=600, check=False
    )
    for tags in json.loads(completed.stdout):
        _EXIFTOOL_READINGS[Path(tags["SourceFile"])] = exiftool.readings(tags)


def exiftool_reading(path: Path, artifacts: Path) -> dict:
    if path not in _EXIFTOOL_READINGS:
        _EXIFTOOL_READINGS[path] = exiftool.extract(path, artifacts)
    result = _EXIFTOOL_READINGS[path]
    gps = result["gps"]
    return {
        "make": result["make"],
        "model": result["model"],
        "captured_at": result["captured_at"],
        "gps": None if gps is None else (gps["latitude"], gps["longitude"]),
    }


def _time(text: str | None) -> tuple[str, str] | None:
    match = TIME.match(text or "")
    if not match:
        return None
    zone = (match.group(5) or "").replace("Z", "+00:00")
    if zone and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}T{match.group(4)}", zone


def agrees(field: str, ours, reference) -> bool:
    """The same value; a time to the second, with the same zone whenever the reference has one."""
    if field == "captured_at":
        ours, reference = _time(ours), _time(reference)
        if ours is None or reference is None:
            return ours == reference
        return ours[0] == reference[0] and (not reference[1] or ours[1] == reference[1])
    if field == "gps":
        if ours is None or reference is None:
            return ours == reference
        return all(abs(a - b) <= GPS_TOLERANCE for a, b in zip(ours, reference, strict=True))
    return (ours or None) == (reference or None)


@pytest.fixture(scope="session")
def comparisons(generated, real_files, tmp_path_factory) -> list[tuple[str, str, dict, dict]]:
    """(format, file, our fields, ExifTool's fields) for every file of both corpora."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    files = [(sample.format, sample.path) for sample in generated]
    files += [(_format_of(path), path) for path in real_files]
    read_all_with_exiftool([path for _, path in files])
    return [(fmt, path.name, own_reading(path, artifacts), exiftool_reading(path, artifacts)) for fmt, path in files]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return VIDEO_SUFFIXES.get(suffix) or PHOTO_SUFFIXES[suffix]


@pytest.fixture(scope="session")
def agreement(comparisons, request) -> dict[tuple[str, str], tuple[int, int]]:
    """(agreeing, total) per (format, field), printed once in the run's summary."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for fmt, _name, ours, reference in comparisons:
        for field in FIELDS:
            counts[(fmt, field)][0] += agrees(field, ours[field], reference[field])
            counts[(fmt, field)][1] += 1
    table = {key: (good, total) for key, (good, total) in counts.items()}
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            for line in agreement_lines(table):
                reporter.write_line(line)
    return table


def agreement_lines(table: dict[tuple[str, str], tuple[int, int]]) -> list[str]:
    lines = ["", "Agreement with ExifTool of the desk's own readers (exif, video), per format and field:"]
    lines.append(f"{'format':8}" + "".join(f"{field:>16}" for field in FIELDS))
    for fmt in sorted({fmt for fmt, _ in table}):
        lines.append(f"{fmt:8}" + "".join(f"{_cell(*table[(fmt, field)]):>16}" for field in FIELDS))
    totals = [sum(table[key][i] for key in table if key[1] == field) for field in FIELDS for i in (0, 1)]
    lines.append(f"{'all':8}" + "".join(f"{_cell(*totals[i : i + 2]):>16}" for i in range(0, 8, 2)))
    return lines


def _cell(good: int, total: int) -> str:
    return f"{good}/{total} {100 * good / total:.0f}%"


def test_it_generates_every_format_desks_receive(generated):
    formats = {sample.format for sample in generated}
    assert formats == set(metadata_corpus.PHOTO_FORMATS) | set(metadata_corpus.VIDEO_FORMATS)


@pytest.mark.parametrize("field", FIELDS)
def test_it_agrees_with_exiftool_on_at_least_99_percent_of_files_per_format(agreement, comparisons, field):
    low = {fmt: (good, total) for (fmt, each), (good, total) in agreement.items() if each == field}
    low = {fmt: counts for fmt, counts in low.items() if counts[0] < REQUIRED_AGREEMENT * counts[1]}
    wrong = [
        (name, ours[field], reference[field])
        for fmt, name, ours, reference in comparisons
        if fmt in low and not agrees(field, ours[field], reference[field])
    ]
    assert not low, wrong


def test_exiftool_reads_back_what_was_written(generated, tmp_path):
    """The generated corpus holds what it claims to: ExifTool's reading is the written values."""
    wrong = []
    for sample in generated:
        want = metadata_corpus.expected(sample.values, sample.format, sample.way)
        found = exiftool_reading(sample.path, tmp_path)
        time = f"{want['time']}{want['offset'] or ''}" if want["time"] else None
        gps = None if want["latitude"] is None else (want["latitude"], want["longitude"])
        for field, value in (("make", want["make"]), ("model", want["model"]), ("captured_at", time), ("gps", gps)):
            if not agrees(field, found[field], value):
                wrong.append((sample.path.name, field, found[field], value))
    assert not wrong


def test_it_reads_a_webp_whose_exif_chunk_pillow_wrote(generated, tmp_path):
    sample = next(s for s in generated if s.way == "pillow-exif" and s.values.offset)
    result = exif.extract(sample.path, tmp_path)
    assert (result["make"], result["model"]) == (sample.values.make, sample.values.model)
    assert result["captured_at"] == "2021-03-04T05:06:07+02:00"


def test_it_reads_a_pngs_raw_profile_exif_and_creation_time(generated, tmp_path):
    raw = next(s for s in generated if s.way == "raw-profile")
    assert exif.extract(raw.path, tmp_path)["model"] == raw.values.model
    text = next(s for s in generated if s.way == "png-text" and s.values.offset)
    result = exif.extract(text.path, tmp_path)
    assert (result["captured_at"], result["captured_at_source"]) == ("2021-03-04T05:06:07+02:00", "PNG Creation Time")


def test_it_reads_the_zone_of_an_mp4_item_list_creation_time(generated, tmp_path):
    sample = next(s for s in generated if s.format == "mp4" and s.way == "item-list" and s.values.offset)
    assert video.extract(sample.path, tmp_path)["captured_at"] == "2021-03-04T05:06:07+02:00"


def test_it_lists_no_disagreement_where_the_readers_agree(generated, tmp_path):
    sample = next(s for s in generated if s.format == "heic" and s.way == "exif")
    results = {"exif": exif.extract(sample.path, tmp_path), "exiftool": exiftool.extract(sample.path, tmp_path)}
    assert disagreements(results) == []
