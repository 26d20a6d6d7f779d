"""Small media files made on the spot for tests that must not depend on the shared corpus."""

import io
import random
import subprocess
from pathlib import Path

from PIL import Image


def jpeg_bytes(*, size=(64, 48), seed: int = 1, exif: dict | None = None) -> bytes:
    """A noisy JPEG (so its hash is meaningful), optionally with EXIF tags {tag_id: value}."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(size[0] * size[1])])
    out = io.BytesIO()
    tags = Image.Exif()
    for tag, value in (exif or {}).items():
        tags[tag] = value
    image.save(out, "JPEG", quality=85, exif=tags.tobytes())
    return out.getvalue()


def png_bytes(size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def mp4_file(path: Path, seconds: int = 2) -> Path:
    """A short test-pattern MP4 made with ffmpeg."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=duration={seconds}:size=160x120:rate=10",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path
