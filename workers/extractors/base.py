"""What every extractor is: a name, a version, the kinds it reads, and a function over a file path.

An extractor module defines:

    NAME = "exif"                 # unique, stable: the Extraction row's key
    VERSION = "1"                 # bump when the result's shape or meaning changes
    KINDS = frozenset({"photo"})  # MediaItem kinds it reads ("photo", "video", "other")

    def extract(path: Path, artifacts_dir: Path) -> dict: ...

`extract` returns a JSON-serialisable dict of readings. It may write derived files
(thumbnails, keyframes, error-level images) into `artifacts_dir`, which exists and
is empty, and lists their file names under the result's "artifacts" key. It raises
`Unsupported` when the file is of a kind or format it does not read, and
`ExtractionFailed` with a sentence a reviewer can read when the file is broken.
Anything else it raises is a bug and is recorded as such. Extractors import nothing
from Django, so they can be tested and benchmarked alone.
"""

from __future__ import annotations


class Unsupported(Exception):
    """The extractor does not read this kind of file; the message says what it is."""


class ExtractionFailed(Exception):
    """The file could not be read; the message says why, for a reviewer."""


def describe_size(n: int) -> str:
    return f"{n:,} bytes"
