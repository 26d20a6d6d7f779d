"""The canonical form of a case event and the walk along a chain of them, without Django.

`chain` hashes the desk's events with these functions, and `verify_bundle` checks an exported
chain with the very same ones, on a machine that has the bundle and nothing of the desk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

# The digest the first event of every case points back to.
GENESIS = "0" * 64
# Bumped if the canonical form ever changes; it is part of what is hashed.
FORMAT = 1


def whole_floats(value: Any) -> Any:
    """`value` with whole floats as integers, as PostgreSQL's jsonb gives them back (2.0 as 2)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_floats(item) for item in value]
    return value


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_content(
    *,
    case_id: int,
    media_sha256: str | None,
    kind: str,
    actor_id: int | None,
    at: datetime,
    old: Any,
    new: Any,
    note: str,
    previous_digest: str,
) -> dict:
    """What an event's digest covers; `old` and `new` are plain JSON values already."""
    return {
        "format": FORMAT,
        "case": case_id,
        "media_sha256": media_sha256 or None,
        "kind": kind,
        "actor": actor_id,
        "at": utc_text(at),
        "old": old,
        "new": new,
        "note": note,
        "previous": previous_digest,
    }


def serialise(content: dict) -> bytes:
    """The bytes an event's digest is taken over: sorted-key, whitespace-free, ASCII JSON."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def digest(content: dict) -> str:
    return hashlib.sha256(serialise(content)).hexdigest()


def walk(links: Iterable[tuple[Any, bytes, str, str]]) -> Iterator[tuple[Any, str]]:
    """Walk one case's chain, oldest first: (event, problem) for every link that does not hold.

    Each link is (the event's name, its canonical bytes, the digest it points back to, its recorded digest).
    """
    expected = GENESIS
    for event, canonical_bytes, previous, stored in links:
        if previous != expected:
            found, wanted = _apart(previous, expected)
            yield (
                event,
                f"points back to {found or 'nothing'} but the event before it has digest "
                f"{wanted} (an event was removed, inserted or reordered)",
            )
        recomputed = hashlib.sha256(canonical_bytes).hexdigest()
        if recomputed != stored:
            found, recorded = _apart(recomputed, stored)
            yield (
                event,
                f"content hashes to {found}, not the recorded {recorded or 'nothing'} "
                "(the event was changed after it was written)",
            )
        expected = stored


def _apart(first: str, second: str) -> tuple[str, str]:
    """Two different digests, shortened to 12 characters where that still tells them apart."""
    if first[:12] == second[:12]:
        return first, second
    return first[:12], second[:12]
