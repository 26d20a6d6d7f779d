"""The hash chain of case events: each event's SHA-256 covers its content and the digest of the event before it.

One chain per case, not one for the desk: a case's events, exported with its report, can be
verified alone, without the rest of the archive; and writers on different cases never wait
for each other. The order across cases is still there in each event's time.

Concurrent writers never fork a chain: the case row is locked (FOR NO KEY UPDATE, which
does not block inserts that merely reference the case) before the head is read, and on
SQLite the IMMEDIATE transaction mode already serialises writers. A unique constraint on
(case, previous digest) makes a fork impossible even if that lock were ever skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from verify.record.canonical import FORMAT, GENESIS, event_content, serialise, utc_text, walk, whole_floats

__all__ = ["FORMAT", "GENESIS", "Break", "canonical", "content_of", "digest_of", "plain_json", "seal", "utc_text"]


def plain_json(value: Any) -> Any:
    """`value` as the database gives it back: through JSON, and with whole floats as integers.

    PostgreSQL's jsonb keeps numbers as numerics, so 2.0 comes back as 2; hashing the
    value in this form makes the digest the same before and after the round trip.
    """
    return whole_floats(json.loads(json.dumps(value, cls=DjangoJSONEncoder)))


def canonical_content(*, old: Any, new: Any, **content) -> dict:
    """An event's canonical content (see `verify.record.canonical`), its values made plain JSON first."""
    return event_content(old=plain_json(old), new=plain_json(new), **content)


def canonical(**content) -> bytes:
    """The bytes an event's digest is taken over: sorted-key, whitespace-free, ASCII JSON."""
    return serialise(canonical_content(**content))


def digest_of(**content) -> str:
    return hashlib.sha256(canonical(**content)).hexdigest()


def content_of(event) -> dict:
    """The fields of `event` (a CaseEvent, or a migration's historical one) that its digest covers."""
    return {
        "case_id": event.case_id,
        "media_sha256": event.media_item.sha256 if event.media_item_id else None,
        "kind": str(event.kind),
        "actor_id": event.actor_id,
        "at": event.at,
        "old": event.old,
        "new": event.new,
        "note": event.note,
        "previous_digest": event.previous_digest,
    }


def seal(events: list, *, using: str = "default") -> None:
    """Give each new event its previous digest and its own, in list order. Call inside a transaction."""
    if not events:
        return
    from verify.models import Case, CaseEvent

    if not transaction.get_connection(using).in_atomic_block:
        raise transaction.TransactionManagementError("Case events are chained inside a transaction")
    case_ids = sorted({event.case_id for event in events})
    # Locked in id order, so that two writers touching the same cases cannot deadlock.
    list(
        Case.objects.using(using)
        .select_for_update(no_key=True)
        .filter(pk__in=case_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    heads = {
        case_id: CaseEvent.objects.using(using)
        .filter(case_id=case_id)
        .order_by("-pk")
        .values_list("digest", flat=True)
        .first()
        or GENESIS
        for case_id in case_ids
    }
    for event in events:
        event.old, event.new = plain_json(event.old), plain_json(event.new)
        event.previous_digest = heads[event.case_id]
        event.digest = digest_of(**content_of(event))
        heads[event.case_id] = event.digest


@dataclass(frozen=True)
class Break:
    """A place where a case's chain does not hold."""

    case_id: int
    event_id: int
    problem: str

    def __str__(self) -> str:
        return f"case #{self.case_id}, event #{self.event_id}: {self.problem}"


_FIELDS = ("pk", "case_id", "media_item__sha256", "kind", "actor_id", "at", "old", "new", "note")


def verify(case_ids: Iterable[int] | None = None) -> tuple[int, int, list[Break]]:
    """Walk the chains (of `case_ids`, or of every case): (events checked, cases checked, breaks)."""
    from verify.models import CaseEvent

    events = CaseEvent.objects.all()
    if case_ids is not None:
        events = events.filter(case_id__in=list(case_ids))
    rows = events.order_by("case_id", "pk").values_list(*_FIELDS, "previous_digest", "digest")
    checked, cases, breaks = 0, 0, []
    for case_id, chain in _by_case(rows.iterator(chunk_size=2000)):
        cases += 1
        checked += len(chain)
        links = (
            (
                pk,
                canonical(
                    case_id=case_id,
                    media_sha256=sha,
                    kind=kind,
                    actor_id=actor_id,
                    at=at,
                    old=old,
                    new=new,
                    note=note,
                    previous_digest=previous,
                ),
                previous,
                stored,
            )
            for pk, _, sha, kind, actor_id, at, old, new, note, previous, stored in chain
        )
        breaks += [Break(case_id, pk, problem) for pk, problem in walk(links)]
    return checked, cases, breaks


def _by_case(rows: Iterator[tuple]) -> Iterator[tuple[int, list[tuple]]]:
    current, chain = None, []
    for row in rows:
        if row[1] != current and chain:
            yield current, chain
            chain = []
        current = row[1]
        chain.append(row)
    if chain:
        yield current, chain
