"""Helpers the extractor tests share: generated pictures, and running an extractor over the corpus's broken files."""

from __future__ import annotations

import itertools
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from workers.extractors.base import ExtractionFailed, Unsupported

SECONDS_PER_FILE = 30  # survive_all's bound on one file


# Generated pictures


def make_scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like picture: a smooth colour field, some shapes, a little noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    a, b = rng.uniform(2, 8, 2)
    field = 120 + 70 * np.sin(a * x + rng.uniform(0, 6)) * np.cos(b * y + rng.uniform(0, 6))
    rgb = np.stack([field, field * 0.7 + 40, 220 - field * 0.6], axis=-1) + rng.normal(0, 6, (height, width, 3))
    image = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        left, top = int(rng.integers(0, width - 120)), int(rng.integers(0, height - 120))
        box = [left, top, left + int(rng.integers(40, 200)), top + int(rng.integers(40, 200))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image.filter(ImageFilter.GaussianBlur(1))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares the given size (its pixel data is absent)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


# Broken and hostile files: only Unsupported or ExtractionFailed, in readable sentences, quickly.


def broken_files(corpus: Path) -> list[Path]:
    """Every file in the corpus's malformed and fuzz folders (malformed/README too: it is a file like any other)."""
    return sorted(path for folder in ("malformed", "fuzz") for path in (corpus / folder).iterdir() if path.is_file())


@dataclass(frozen=True)
class Outcome:
    """One extraction: what went wrong (None if nothing), how long it took, and what it returned."""

    path: Path
    problem: str | None
    seconds: float
    result: dict | None = None


def attempt(read: Callable[[Path], dict], path: Path, *, readable: Callable[[str], bool]) -> Outcome:
    """Read one file; only Unsupported and ExtractionFailed may come out, with a message `readable` accepts."""
    started = time.perf_counter()
    result = problem = None
    try:
        result = read(path)
    except (Unsupported, ExtractionFailed) as error:
        problem = None if readable(str(error)) else f"unreadable message {str(error)!r}"
    except Exception as error:  # whatever escapes is the finding
        problem = f"{type(error).__name__} escaped: {error}"
    return Outcome(path, problem, time.perf_counter() - started, result)


def attempt_all(
    read: Callable[[Path], dict], files: Iterable[Path], *, readable: Callable[[str], bool], threads: int = 1
) -> list[Outcome]:
    """An Outcome for each file, in order; `threads` above 1 reads that many files at once."""
    attempt_one = partial(attempt, read, readable=readable)
    if threads == 1:
        return [attempt_one(path) for path in files]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(attempt_one, files))


def problems_in(outcomes: Iterable[Outcome], *, seconds: float | None = None) -> list[str]:
    """A line naming the file for each outcome that went wrong, and for each that took longer than `seconds`."""
    problems = []
    for outcome in outcomes:
        if outcome.problem:
            problems.append(f"{outcome.path.name}: {outcome.problem}")
        if seconds is not None and outcome.seconds > seconds:
            problems.append(f"{outcome.path.name}: took {outcome.seconds:.1f} s")
    return problems


def slowest_of(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=lambda outcome: outcome.seconds)


def survive_all(extract: Callable[[Path, Path], dict], files: list[Path], tmp_path: Path, corpus: Path) -> Outcome:
    """Run `extract` over files, each with an artifacts folder of its own; fail on any problem; the slowest run."""
    runs = itertools.count()

    def read(path: Path) -> dict:
        artifacts = tmp_path / f"run-{next(runs)}"
        artifacts.mkdir()
        return extract(path, artifacts)

    outcomes = attempt_all(read, files, readable=partial(is_reviewer_sentence, corpus=corpus))
    problems = problems_in(outcomes, seconds=SECONDS_PER_FILE)
    assert not problems, "\n".join(problems)
    return slowest_of(outcomes)


# What counts as readable: each extractor's tests keep the bar they were written with.


def is_sentence(message: str) -> bool:
    """At least 20 characters, more than one word, ending with a full stop (the exif and image bar)."""
    return len(message) >= 20 and " " in message and message.endswith(".")


def is_readable_sentence(message: str) -> bool:
    """Capitalised (or opening with the tool's own lower-case name), ended, free of pointers and tracebacks."""
    starts_well = message[:1].isupper() or message.split(" ", 1)[0] in ("ffprobe", "c2pa")
    return starts_well and message.endswith((".", "?", "!")) and "@ 0x" not in message and "Traceback" not in message


def is_reviewer_sentence(message: str, corpus: Path) -> bool:
    """A sentence for a reviewer: capitalised, ends with a full stop, one line, no paths."""
    return (
        20 <= len(message) <= 400
        and message[0].isupper()
        and message.endswith(".")
        and "\n" not in message
        and str(corpus) not in message
        and os.sep + "tmp" not in message
    )
