"""Bidirectional control characters in user text, isolated on output so that they cannot reorder what surrounds them.

A file named "abc\u202eexe.gpj" shows as "abcjpg.exe", and an override left open
turns the rest of its line around: the label after it, the next column of a
report. Stored text is evidence and is never changed; each page, report and
export passes user text through `isolate` (in HTML, the `bdi` filter) as it
writes it out.
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"
LRM, RLM, ALM = "\u200e", "\u200f", "\u061c"

EMBEDDINGS = frozenset({LRE, RLE, LRO, RLO})
ISOLATES = frozenset({LRI, RLI, FSI})
BIDI_CONTROLS = frozenset({*EMBEDDINGS, PDF, *ISOLATES, PDI, LRM, RLM, ALM})
_CONTROLS = "".join(sorted(BIDI_CONTROLS))
_HAS_CONTROL = re.compile(f"[{_CONTROLS}]")
# What ends a paragraph for the bidi algorithm, and with it every embedding and isolate opened in it.
_PARAGRAPH_BREAK = re.compile("(\r\n|[\n\r\x1c-\x1e\x85\u2029])")


def has_bidi_controls(text: str) -> bool:
    # Every bidi control is outside ASCII, and isascii() answers for ASCII text far faster than a search.
    return not text.isascii() and bool(_HAS_CONTROL.search(text))


def strip_leading_controls(text: str) -> str:
    """`text` without the bidi controls it starts with (what a spreadsheet sees first)."""
    return text.lstrip(_CONTROLS)


def _scan(paragraph: str) -> tuple[list[str], int, bool]:
    """What `paragraph` leaves open (the closing mark of each, innermost last), how many PDIs in it close
    nothing, and whether it is already one isolate from its first character to its last.

    As in the Unicode bidi algorithm: a PDF closes the latest embedding unless an isolate was
    opened after it; a PDI closes the latest isolate and every embedding opened inside it.
    """
    stack: list[str] = []
    stray = 0
    wrapped = paragraph[:1] in ISOLATES and paragraph.endswith(PDI)
    for position, char in enumerate(paragraph):
        if char in EMBEDDINGS:
            stack.append(PDF)
        elif char in ISOLATES:
            stack.append(PDI)
        elif char == PDF and stack and stack[-1] == PDF:
            stack.pop()
        elif char == PDI:
            if PDI in stack:
                del stack[len(stack) - 1 - stack[::-1].index(PDI) :]
            else:
                # Once wrapped, this PDI would close one of the isolates put around the text,
                # and every embedding opened before it; count it so that one more goes around.
                stray += 1
                stack.clear()
        if not stack and position < len(paragraph) - 1:
            wrapped = False
    return stack, stray, wrapped and not stack and not stray


def _isolate_paragraph(paragraph: str) -> str:
    if not has_bidi_controls(paragraph):
        return paragraph
    still_open, stray, wrapped = _scan(paragraph)
    if wrapped:
        return paragraph
    return FSI * (1 + stray) + paragraph + "".join(reversed(still_open)) + PDI


def isolate(text: str) -> str:
    """`text` as it may be shown next to other text: each line holding a bidi control is closed and
    wrapped in FSI…PDI, so that it can reorder only itself. Text without bidi controls is returned as it is,
    and isolating twice changes nothing more."""
    if not text or not has_bidi_controls(text):
        return text
    parts = _PARAGRAPH_BREAK.split(text)
    # split() with a group puts the line breaks at odd positions.
    return "".join(part if index % 2 else _isolate_paragraph(part) for index, part in enumerate(parts))


def isolate_all(value):
    """`value` (JSON-ready data) with every string in it isolated; keys and other values as they are."""
    if isinstance(value, str):
        return isolate(value)
    if isinstance(value, dict):
        return {key: isolate_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [isolate_all(item) for item in value]
    return value


def escape_in_json(text: str) -> str:
    """JSON text with each bidi control written as a \\u escape, so that the file read as text cannot be
    reordered either. Valid JSON stays valid: these characters can only occur inside its strings."""
    return _HAS_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def has_right_to_left(text: str) -> bool:
    """Whether `text` holds a right-to-left letter or number (Hebrew, Arabic, Syriac, Thaana...)."""
    return any(unicodedata.bidirectional(char) in ("R", "AL", "AN") for char in text)


def bdi(value) -> SafeString:
    """`value` for HTML, escaped. Text with bidi controls or right-to-left letters is isolated and put in
    a <bdi> element, which takes its direction from its content; any other text is left as it is."""
    if value is None or value == "":
        return SafeString("")
    text = str(value)
    if not has_bidi_controls(text) and not has_right_to_left(text):
        return conditional_escape(text)
    return format_html("<bdi>{}</bdi>", isolate(text))
