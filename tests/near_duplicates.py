"""Pictures and the copies a desk receives of them, for the near-duplicate tests and bench/matching_curve.py.

Each copy kind turns an original into what re-circulates: re-encoded, halved, cropped, turned, mirrored,
screenshotted on a phone, shrunk into a dark border, captioned, overlaid with meme text, or pasted as one
quarter of a collage. A kind takes the original and a random generator (for the uneven parts: border
offsets, caption heights, collage neighbours) and returns the copy and how it is saved.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

JPEG = {"format": "JPEG", "quality": 90}


def generated_picture(seed: int, size: tuple[int, int] = (900, 600), shapes: tuple[int, int] = (8, 20)) -> Image.Image:
    """A picture with structure: a colour gradient at a random angle, `shapes` (fewest, most) shapes and lines,
    sensor-like noise and a slight blur."""
    rng = np.random.default_rng(10_000 + seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * x + np.sin(angle) * y)[..., None]
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    picture = Image.fromarray((start + (end - start) * ramp).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(*shapes))):
        left, top = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [left, top, left + int(rng.integers(30, width // 2)), top + int(rng.integers(30, height // 2))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse(box, fill=colour)
        elif shape == 1:
            draw.rectangle(box, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(4, 30)))
    noisy = np.asarray(picture, dtype=np.float64) + rng.normal(0, 10, (height, width, 3))
    return Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def cropped(share: float, corner: str) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    """A copy without `share` of the width and height at one corner, or half of it each side of the centre."""

    def make(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
        width, height = picture.size
        dx, dy = round(width * share), round(height * share)
        boxes = {
            "top left": (dx, dy, width, height),
            "top right": (0, dy, width - dx, height),
            "bottom left": (dx, 0, width, height - dy),
            "bottom right": (0, 0, width - dx, height - dy),
            "centre": (dx // 2, dy // 2, width - dx // 2, height - dy // 2),
        }
        return picture.crop(boxes[corner])

    return make


def screenshot(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture as a phone shows it full width: status bar with time and icons, dark margins, navigation bar."""
    screen_width, screen_height = 1080, 2340
    shown = picture.resize((1040, round(picture.height * 1040 / picture.width)), Image.Resampling.BILINEAR)
    screen = Image.new("RGB", (screen_width, max(screen_height, shown.height + 400)), (18, 18, 18))
    screen.paste(shown, (20, (screen.height - shown.height) // 2))
    draw = ImageDraw.Draw(screen)
    draw.text((40, 22), "12:45", fill=(240, 240, 240), font=font(44))
    for n in range(4):
        draw.rectangle([880 + n * 44, 34, 910 + n * 44, 64], fill=(230, 230, 230))
    for n, glyph in enumerate(("<", "O", "=")):
        draw.text((260 + n * 260, screen.height - 110), glyph, fill=(230, 230, 230), font=font(60))
    return screen


def in_dark_border(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture shrunk to 60-85% and placed off-centre on a dark canvas of the original's size."""
    scale = rng.uniform(0.6, 0.85)
    shrunk = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS)
    shade = tuple(int(c) for c in rng.integers(0, 35, 3))
    canvas = Image.new("RGB", picture.size, shade)
    left = int(rng.integers(0, picture.width - shrunk.width + 1))
    top = int(rng.integers(0, picture.height - shrunk.height + 1))
    canvas.paste(shrunk, (left, top))
    return canvas


def captioned(side: str) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    """The picture with a plain bar of 10-15% of its height added at the top or bottom, a line of text on it."""

    def make(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
        bar = round(picture.height * rng.uniform(0.10, 0.15))
        light = bool(rng.integers(0, 2))
        canvas = Image.new("RGB", (picture.width, picture.height + bar), (250, 250, 250) if light else (12, 12, 12))
        canvas.paste(picture, (0, bar if side == "top" else 0))
        text_top = 0 if side == "top" else picture.height
        size = max(10, round(bar * 0.45))
        ImageDraw.Draw(canvas).text(
            (round(picture.width * 0.04), text_top + round(bar * 0.25)),
            "Flooding reported downtown this morning",
            fill=(0, 0, 0) if light else (255, 255, 255),
            font=font(size),
        )
        return canvas

    return make


def meme_text(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Meme-style text: white capitals with a black outline across the top and the bottom of the picture."""
    copy = picture.copy()
    draw = ImageDraw.Draw(copy)
    size = max(12, picture.height // 9)
    for text, top in (("WHEN THEY SAY", 0.03), ("IT HAPPENED TODAY", 0.85)):
        draw.text(
            (picture.width * 0.06, picture.height * top),
            text,
            fill=(255, 255, 255),
            font=font(size),
            stroke_width=max(2, size // 10),
            stroke_fill=(0, 0, 0),
        )
    return copy


def collage_quarter(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture as one quarter of a 2x2 collage with thin white gutters; the other three are unrelated."""
    cell_w, cell_h, gutter = 540, 400, 8
    others = [generated_picture(int(rng.integers(500_000, 900_000)), (cell_w, cell_h)) for _ in range(3)]
    place = int(rng.integers(0, 4))
    cells = others[:place] + [picture.resize((cell_w, cell_h), Image.Resampling.LANCZOS)] + others[place:]
    collage = Image.new("RGB", (2 * cell_w + 3 * gutter, 2 * cell_h + 3 * gutter), (255, 255, 255))
    for n, cell in enumerate(cells):
        collage.paste(cell, (gutter + (n % 2) * (cell_w + gutter), gutter + (n // 2) * (cell_h + gutter)))
    return collage


def as_is(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    return picture


# kind: (make the copy, how it is saved)
COPY_KINDS: dict[str, tuple[Callable[[Image.Image, np.random.Generator], Image.Image], dict]] = {
    "re-encoded q50": (as_is, {"format": "JPEG", "quality": 50}),
    "re-encoded q70": (as_is, {"format": "JPEG", "quality": 70}),
    "halved": (lambda p, rng: p.resize((p.width // 2, p.height // 2), Image.Resampling.LANCZOS), JPEG),
    **{
        f"cropped {share:.0%} {where}": (cropped(share, where), JPEG)
        for share in (0.05, 0.10)
        for where in ("top left", "top right", "bottom left", "bottom right", "centre")
    },
    "turned 90°": (lambda p, rng: p.transpose(Image.Transpose.ROTATE_90), JPEG),
    "turned 180°": (lambda p, rng: p.transpose(Image.Transpose.ROTATE_180), JPEG),
    "turned 270°": (lambda p, rng: p.transpose(Image.Transpose.ROTATE_270), JPEG),
    "mirrored": (lambda p, rng: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT), JPEG),
    "phone screenshot": (screenshot, {"format": "PNG"}),
    "dark border": (in_dark_border, JPEG),
    "caption bar top": (captioned("top"), JPEG),
    "caption bar bottom": (captioned("bottom"), JPEG),
    "meme text": (meme_text, JPEG),
    "collage quarter": (collage_quarter, JPEG),
}


def make_copy(picture: Image.Image, kind: str, seed: int) -> Image.Image:
    """The copy of `kind`, saved and read back as the desk would receive it."""
    import io

    make, save = COPY_KINDS[kind]
    buffer = io.BytesIO()
    make(picture, np.random.default_rng(seed)).save(buffer, **save)
    buffer.seek(0)
    with Image.open(buffer) as copy:
        return copy.convert("RGB")
