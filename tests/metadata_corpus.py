"""A generated corpus of photos and videos in every format desks receive, with known metadata written by ExifTool.

Each file starts as a small picture or clip made with Pillow, pillow-heif or ffmpeg; `exiftool` then
writes a make, model, capture time (with or without its zone) and GPS position into the place a
camera, a phone or an editor would keep them: the EXIF block, an XMP packet, a PNG text chunk,
Apple's QuickTime keys, the MP4 item list or user data. Made at test time, never committed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pillow_heif
from PIL import Image
from PIL.PngImagePlugin import PngInfo

EXIFTOOL = shutil.which("exiftool")
PHOTO_FORMATS = ("jpeg", "heic", "png", "webp", "tiff", "avif")
VIDEO_FORMATS = ("mp4", "mov", "3gp")


@dataclass(frozen=True)
class Values:
    """What is written into one file; None leaves the field out."""

    make: str | None
    model: str | None
    time: str | None  # "YYYY:MM:DD HH:MM:SS"
    offset: str | None  # "+02:00"
    latitude: float | None
    longitude: float | None


VALUE_SETS = (
    Values("Canon", "Canon EOS R5", "2021:03:04 05:06:07", "+02:00", 48.8566, 2.3522),
    Values("Apple", "iPhone 14 Pro", "2023:11:30 23:59:58", "-05:00", -33.8688, -70.6693),
    Values("samsung", "SM-G991B", "2019:07:01 00:00:01", None, 55.7558, 37.6173),
)


@dataclass
class Sample:
    path: Path
    format: str
    way: str  # where the values were written
    values: Values
    notes: list[str] = field(default_factory=list)


def _picture(seed: int) -> Image.Image:
    picture = Image.new("RGB", (64, 48), (seed * 40 % 256, 120, 200 - seed * 30 % 200))
    picture.paste((255, 255, 255), (8 + seed, 8, 30 + seed, 30))
    return picture


def _blank_photo(path: Path, fmt: str, seed: int) -> None:
    picture = _picture(seed)
    if fmt == "heic":
        pillow_heif.from_pillow(picture).save(path, quality=60)
        return
    picture.save(path, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "avif": "AVIF"}[fmt])


def _blank_video(path: Path, fmt: str, seed: int) -> None:
    source = f"testsrc2=size=64x48:duration=0.4:rate=5,hue=h={seed * 30}"
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    command += ["-map_metadata", "-1", "-fflags", "+bitexact", "-f", {"mp4": "mp4", "mov": "mov", "3gp": "3gp"}[fmt]]
    subprocess.run([*command, str(path)], check=True, timeout=60)  # noqa: S603


def _exif_args(v: Values) -> list[str]:
    args = []
    if v.make:
        args += [f"-IFD0:Make={v.make}", f"-IFD0:Model={v.model}"]
    if v.time:
        args.append(f"-ExifIFD:DateTimeOriginal={v.time}")
        if v.offset:
            args.append(f"-ExifIFD:OffsetTimeOriginal={v.offset}")
    return args + _gps_args(v, "GPS")


def _gps_args(v: Values, group: str) -> list[str]:
    if v.latitude is None:
        return []
    return [
        f"-{group}:GPSLatitude={abs(v.latitude)}",
        f"-{group}:GPSLatitudeRef={'N' if v.latitude >= 0 else 'S'}",
        f"-{group}:GPSLongitude={abs(v.longitude)}",
        f"-{group}:GPSLongitudeRef={'E' if v.longitude >= 0 else 'W'}",
    ]


def _xmp_args(v: Values) -> list[str]:
    args = [f"-XMP-tiff:Make={v.make}", f"-XMP-tiff:Model={v.model}"] if v.make else []
    if v.time:
        args.append(f"-XMP-exif:DateTimeOriginal={v.time}{v.offset or ''}")
    if v.latitude is not None:
        args += [f"-XMP-exif:GPSLatitude={v.latitude}", f"-XMP-exif:GPSLongitude={v.longitude}"]
    return args


def _create_date_args(v: Values) -> list[str]:
    """A capture time kept only as the digitised time, as some scanners and phone apps do."""
    args = [f"-IFD0:Make={v.make}", f"-IFD0:Model={v.model}", f"-ExifIFD:CreateDate={v.time}"]
    if v.offset:
        args.append(f"-ExifIFD:OffsetTimeDigitized={v.offset}")
    return args + _gps_args(v, "GPS")


def _png_text_args(v: Values) -> list[str]:
    return [f"-PNG:CreationTime={v.time}{v.offset or ''}"]


def _quicktime_keys_args(v: Values) -> list[str]:
    """As an iPhone writes them: Apple's metadata keys, with the zone of the capture time."""
    args = [f"-Keys:Make={v.make}", f"-Keys:Model={v.model}", f"-Keys:CreationDate={v.time}{v.offset or ''}"]
    if v.latitude is not None:
        args.append(f"-Keys:GPSCoordinates={v.latitude}, {v.longitude}, 12")
    return args


def _item_list_args(v: Values) -> list[str]:
    """As Android phones and ffmpeg write them: the ©day item (with zone), ©mak, ©mod and ©xyz."""
    args = [f"-UserData:Make={v.make}", f"-UserData:Model={v.model}"]
    args.append(f"-ItemList:ContentCreateDate={v.time}{v.offset or ''}")
    if v.latitude is not None:
        args.append(f"-UserData:GPSCoordinates={v.latitude}, {v.longitude}")
    return args


def _movie_header_args(v: Values) -> list[str]:
    """Only the movie header's creation time (UTC), as most cameras and encoders leave it."""
    return ["-QuickTime:CreateDate=" + v.time]


PHOTO_WAYS = {
    "exif": _exif_args,
    "xmp": _xmp_args,
    "create-date": _create_date_args,
}
PNG_WAYS = {"png-text": _png_text_args}
VIDEO_WAYS = {"quicktime-keys": _quicktime_keys_args, "item-list": _item_list_args, "movie-header": _movie_header_args}


def write_with_exiftool(jobs: list[tuple[Path, list[str]]], folder: Path) -> None:
    """Write every file's tags in one ExifTool run (one -execute per file): starting Perl is the slow part."""
    lines = []
    for path, args in jobs:
        lines += ["-q", "-q", "-overwrite_original", "-m", *args, str(path), "-execute"]
    argfile = folder / "exiftool-args.txt"
    argfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    subprocess.run([EXIFTOOL, "-@", str(argfile)], check=True, timeout=600)  # noqa: S603
    argfile.unlink()


def png_with_raw_profile(path: Path, v: Values, seed: int) -> None:
    """A PNG whose EXIF is ImageMagick's hex "Raw profile type exif" text chunk, not an eXIf chunk."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = v.make, v.model
    exif.get_ifd(0x8769)[0x9003] = v.time
    if v.offset:
        exif.get_ifd(0x8769)[0x9011] = v.offset
    block = exif.tobytes()  # with its "Exif" header, as ImageMagick writes it
    hexed = block.hex()
    text = "\nexif\n" + f"{len(block):8d}\n" + "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72)) + "\n"
    info = PngInfo()
    info.add_text("Raw profile type exif", text, zip=True)
    _picture(seed).save(path, "PNG", pnginfo=info)


def webp_with_pillow_exif(path: Path, v: Values, seed: int) -> None:
    """A WebP whose EXIF chunk Pillow wrote (an extended VP8X file), as many web tools save them."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = v.make, v.model
    exif.get_ifd(0x8769)[0x9003] = v.time
    if v.offset:
        exif.get_ifd(0x8769)[0x9011] = v.offset
    out = io.BytesIO()
    _picture(seed).save(out, "WEBP", exif=exif.tobytes())
    path.write_bytes(out.getvalue())


def expected(v: Values, fmt: str, way: str) -> dict:
    """What a reader should find: what was written, less what that place cannot hold."""
    found = {"make": v.make, "model": v.model, "time": v.time, "offset": v.offset}
    found |= {"latitude": v.latitude, "longitude": v.longitude}
    if way in ("png-text", "movie-header"):
        found |= {"make": None, "model": None, "latitude": None, "longitude": None}
    if way in ("raw-profile", "pillow-exif"):
        found |= {"latitude": None, "longitude": None}
    if way == "movie-header":
        found["offset"] = "+00:00"  # the movie header is UTC by definition
    return found


def build(folder: Path) -> list[Sample]:
    """Write the whole generated corpus into `folder`."""
    samples, jobs = [], []
    seed = 0
    for index, values in enumerate(VALUE_SETS):
        for fmt in PHOTO_FORMATS:
            ways = dict(PHOTO_WAYS) | (PNG_WAYS if fmt == "png" else {})
            for way, args in ways.items():
                seed += 1
                path = folder / f"{fmt}-{way}-{index}.{fmt}"
                _blank_photo(path, fmt, seed)
                jobs.append((path, args(values)))
                samples.append(Sample(path, fmt, way, values))
        seed += 1
        png = folder / f"png-raw-profile-{index}.png"
        png_with_raw_profile(png, values, seed)
        samples.append(Sample(png, "png", "raw-profile", values))
        webp = folder / f"webp-pillow-exif-{index}.webp"
        webp_with_pillow_exif(webp, values, seed)
        samples.append(Sample(webp, "webp", "pillow-exif", values))
        for fmt in VIDEO_FORMATS:
            for way, args in VIDEO_WAYS.items():
                seed += 1
                path = folder / f"{fmt}-{way}-{index}.{fmt}"
                _blank_video(path, fmt, seed)
                jobs.append((path, args(values)))
                samples.append(Sample(path, fmt, way, values))
    write_with_exiftool(jobs, folder)
    return samples
