"""Peak memory of reading one picture, each reading in a fresh process: the files, the readings, the measurement.

Shared by tests/test_decode_memory.py (which asserts a ceiling) and bench/decode_memory.py (which
prints the figures against a baseline). The big pictures are generated, never committed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from workers.extractors import extractors_for

BASE_DIR = Path(__file__).resolve().parent.parent
PHOTO_EXTRACTORS = tuple(module.NAME for module in extractors_for("photo"))
SECONDS_PER_READING = 300

# What a fresh process does with the file, then reports its peak RSS (VmHWM) and the outcome.
CHILD = r"""
import json, re, sys, warnings
from pathlib import Path

step, path, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
outcome = "ok"

def peak_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if step in ("import", "pillow"):
    from workers.extractors import exif, forensics, image, perceptual  # noqa: F401
    if step == "pillow":
        from PIL import Image
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.MAX_IMAGE_PIXELS = None
            with Image.open(path) as picture:
                picture.load()
elif step.startswith("web"):
    import django
    django.setup()
    from django.contrib.auth.models import User
    from django.test import Client
    from verify import search_views  # noqa: F401 - the web process has it loaded before any upload
    user = User.objects.filter(username="memory").first() or User.objects.create_superuser("memory", None, "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = "/admin/verify/case/search-by-file/"
    if step == "web-search":
        with path.open("rb") as upload:
            response = client.post(url, {"file": upload})
        html = response.content.decode()
        errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', html, re.S)
        outcome = f"HTTP {response.status_code}: " + (errors[0] if errors else "searched")
    else:
        outcome = f"HTTP {client.get(url).status_code}"
else:
    from importlib import import_module
    from workers.extractors.base import ExtractionFailed, Unsupported
    module = import_module(f"workers.extractors.{step}")
    try:
        result = module.extract(path, work)
        notes = result.get("notes") or result.get("decode_note") or ""
        outcome = "ok" + (f": {notes}" if isinstance(notes, str) and notes else "")
    except (ExtractionFailed, Unsupported) as exc:
        outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"peak_mib": peak_mib(), "outcome": outcome}))
"""


@dataclass(frozen=True)
class Reading:
    step: str
    file: str
    peak_mib: float
    outcome: str


def measure(step: str, path: Path, work: Path, env: dict[str, str] | None = None, root: Path = BASE_DIR) -> Reading:
    """Run one step over one file in a fresh interpreter (the code of `root`); its peak resident memory and outcome."""
    work.mkdir(parents=True, exist_ok=True)
    for leftover in work.iterdir():
        leftover.unlink()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(path), str(work)],
        cwd=root,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=SECONDS_PER_READING,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise RuntimeError(f"{step} on {path.name} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    reported = json.loads(completed.stdout.strip().splitlines()[-1])
    return Reading(step, path.name, reported["peak_mib"], reported["outcome"])


def web_env(folder: Path, root: Path = BASE_DIR) -> dict[str, str]:
    """A web process of its own: a migrated SQLite database and private folders under `folder`."""
    env = {
        "DJANGO_SETTINGS_MODULE": "verify.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'desk.sqlite3'}",
        "VERIFY_DATA_DIR": str(folder / "var"),
        "MEDIA_ROOT": str(folder / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(folder),
        "DEBUG": "1",
    }
    if not (folder / "desk.sqlite3").exists():
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=root,
            env={**os.environ, **env},
            check=True,
            timeout=180,
        )
    return env


# The pictures


def bomb_png(path: Path) -> Path:
    """A paletted PNG of 99.9 megapixels with a transparent colour: a few hundred KB that decode to ~100 MB
    and, flattened onto white as RGBA, to over a gigabyte."""
    picture = Image.new("P", (9990, 10000), 0)
    picture.putpalette([255, 255, 255, 200, 30, 30, 20, 60, 200] + [0] * (256 * 3 - 9))
    draw = ImageDraw.Draw(picture)
    for n in range(40):
        draw.ellipse((n * 240, n * 240, n * 240 + 900, n * 240 + 600), fill=1 + n % 2)
    picture.save(path, "PNG", transparency=0, optimize=False)
    return path


def large_photo(size: tuple[int, int]) -> Image.Image:
    """A photo-like picture of any size, made small and scaled up (fast, and compresses like a photo)."""
    from tests.extractors.helpers import make_scene

    return make_scene(seed=7, size=(1200, 900)).resize(size, Image.Resampling.BILINEAR)


def large_jpeg(path: Path, size: tuple[int, int] = (10000, 10000)) -> Path:
    large_photo(size).save(path, "JPEG", quality=85)
    return path


def large_heic(path: Path, size: tuple[int, int] = (10000, 10000)) -> Path:
    """A HEIC of the given size; x265's fastest preset, as the encoding is what takes time here."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    large_photo(size).save(path, format="HEIF", quality=40, enc_params={"preset": "ultrafast"})
    return path


def large_png(path: Path, size: tuple[int, int]) -> Path:
    """An RGBA PNG: Pillow holds 4 bytes a pixel of it, and flattening its transparency makes copies."""
    large_photo(size).convert("RGBA").save(path, "PNG", compress_level=1)
    return path
