"""What a file is, from its first bytes (never from its name): photo, video or other, and a MIME type."""

from __future__ import annotations

from dataclasses import dataclass

# How many leading bytes `sniff` needs.
SNIFF_BYTES = 256

# ISO base media file brands (ISO/IEC 14496-12 'ftyp'): still images vs movies.
IMAGE_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevc": "image/heic-sequence",
    b"hevx": "image/heic-sequence",
    b"mif1": "image/heif",
    b"msf1": "image/heif-sequence",
    b"avif": "image/avif",
    b"avis": "image/avif",
}
QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


@dataclass(frozen=True)
class FileType:
    kind: str  # "photo", "video" or "other"
    mime_type: str
    description: str


def _brand(raw: bytes) -> str:
    """A four-character brand as text a person can read; anything unprintable shown as '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in raw.decode("latin-1")).strip()


def _other(head: bytes) -> FileType:
    if not head:
        return FileType("other", "application/x-empty", "an empty file")
    shown = " ".join(f"{b:02x}" for b in head[:8])
    return FileType("other", "application/octet-stream", f"not a photo or video format we know (starts {shown})")


def sniff(head: bytes) -> FileType:
    """Identify a file by its leading bytes (pass at least SNIFF_BYTES of them)."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("photo", "image/jpeg", "JPEG image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("photo", "image/png", "PNG image")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileType("photo", "image/gif", "GIF image")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return FileType("photo", "image/tiff", "TIFF image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("photo", "image/webp", "WebP image")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileType("video", "video/x-msvideo", "AVI video")
    if head.startswith(b"BM") and len(head) >= 14:
        return FileType("photo", "image/bmp", "BMP image")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        compatible = [head[i : i + 4] for i in range(16, min(len(head), 64), 4)]
        for candidate in (brand, *compatible):
            if candidate in IMAGE_BRANDS and brand not in (b"isom", b"mp41", b"mp42", b"qt  "):
                return FileType("photo", IMAGE_BRANDS[candidate], f"HEIF image (brand {_brand(brand)})")
        if brand == b"qt  ":
            return FileType("video", "video/quicktime", "QuickTime movie")
        return FileType("video", "video/mp4", f"ISO media file (brand {_brand(brand)})")
    if head[4:8] in QUICKTIME_ATOMS:
        return FileType("video", "video/quicktime", "QuickTime movie")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FileType("video", "video/x-matroska", "Matroska/WebM video")
    if head.startswith(b"FLV\x01"):
        return FileType("video", "video/x-flv", "Flash video")
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return FileType("video", "video/mp2t", "MPEG transport stream")
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return FileType("video", "video/mpeg", "MPEG video")
    return _other(head)
