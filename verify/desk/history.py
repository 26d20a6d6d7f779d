"""The case page's history: each event in words, and the pipeline's back-and-forth between stages as one line."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from verify.bidi import bdi
from verify.desk.formats import moment, person, size
from verify.models import CaseEvent, Platform, Priority
from verify.workflow import Stage

# Stages the pipeline moves a case between by itself while files come in and are read.
READING_STAGES = {Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW}
_LABELS = {"stage": Stage, "priority": Priority, "platform": Platform}
# Keys whose values are byte counts, and what the history calls some keys.
_SIZES = {"size", "bytes_received", "bytes_expected"}
_KEY_WORDS = {"already_in_archive": "already in the archive", "sha256": "SHA-256", "user": "reviewer"}


@dataclass
class HistoryRow:
    """One line of the history: an event, or a run of the pipeline's stage moves."""

    at: datetime
    kind: str
    by: str
    change: SafeString
    note: str = ""
    moves: int = 1
    first_at: datetime | None = None
    events: list[CaseEvent] = field(default_factory=list)

    @property
    def when(self) -> str:
        if self.first_at is None or self.first_at == self.at:
            return moment(self.at)
        first, last = timezone.localtime(self.first_at), timezone.localtime(self.at)
        if first.date() != last.date():
            return f"{moment(self.first_at)} to {moment(self.at)}"
        return (
            f"{moment(self.first_at)} to {last:%H:%M:%S}" if last.second else f"{moment(self.first_at)} to {last:%H:%M}"
        )


def is_reading_move(event: CaseEvent) -> bool:
    """A stage move the pipeline made by itself (no person acted) between triage, collecting and review."""
    if event.kind != CaseEvent.Kind.STAGE_CHANGED or event.actor_id is not None:
        return False
    return {event.old.get("stage"), event.new.get("stage")} <= {str(stage) for stage in READING_STAGES}


def history_rows(events: list[CaseEvent]) -> list[HistoryRow]:
    """The history, newest first, with each run of two or more pipeline stage moves as one line.

    A run is the pipeline's moves with no person's stage move between them; the files collected
    in between keep their own lines, and the run's line sits where its latest move was.
    """
    events = sorted(events, key=lambda event: (event.at, event.pk), reverse=True)
    names = _people_by_username(events)
    rows: list[HistoryRow] = []
    run: HistoryRow | None = None
    for event in events:
        if is_reading_move(event):
            if run is None:
                run = HistoryRow(at=event.at, kind="", by="system", change=SafeString(""), moves=0)
                rows.append(run)
            run.events.append(event)
            run.moves += 1
            run.first_at = event.at
            continue
        if event.kind == CaseEvent.Kind.STAGE_CHANGED:
            run = None
        rows.append(
            HistoryRow(
                at=event.at,
                kind=event.get_kind_display(),
                by=person(event.actor),
                change=describe_change(event, names),
                note=event.note,
                events=[event],
            )
        )
    for row in rows:
        if row.kind == "":
            _describe_run(row)
    return rows


def _describe_run(row: HistoryRow) -> None:
    moves = list(reversed(row.events))  # oldest first
    if row.moves == 1:
        row.kind = moves[0].get_kind_display()
        row.change = describe_change(moves[0])
        row.note = moves[0].note
        row.first_at = None
        return
    visited = list(dict.fromkeys(_stage_label(event.new.get("stage")) for event in moves))
    start = _stage_label(moves[0].old.get("stage"))
    path = " ⇄ ".join(visited)
    if start not in visited:
        path = f"{start} → {path}"
    row.kind = "Stage changed"
    row.change = format_html("<b>stage</b>: {} ×{} while files were read", path, row.moves)
    row.note = ""


def _stage_label(value) -> str:
    with contextlib.suppress(ValueError):
        return Stage(value).label
    return str(value)


def _people_by_username(events: list[CaseEvent]) -> dict[str, str]:
    """Full names for the usernames events stored (an assignment names its reviewer by username)."""
    usernames = {
        value for event in events for value in (event.old.get("user"), event.new.get("user")) if isinstance(value, str)
    }
    if not usernames:
        return {}
    User = get_user_model()
    found = User.objects.filter(**{f"{User.USERNAME_FIELD}__in": usernames})
    return {user.get_username(): person(user) for user in found}


def describe_change(event: CaseEvent, names: dict[str, str] | None = None) -> SafeString:
    """A short 'field: old → new' rendering of an event's values, in the desk's words."""
    rows = []
    for key in dict.fromkeys([*event.old, *event.new]):
        old, new = readable(key, event.old.get(key), names), readable(key, event.new.get(key), names)
        label = _KEY_WORDS.get(key, key.replace("_", " "))
        if key in event.old and key in event.new:
            rows.append((label, format_html("{} → {}", bdi(old), bdi(new))))
        elif (new if key in event.new else old) != "—":
            rows.append((label, bdi(new if key in event.new else old)))
    return format_html_join(mark_safe("<br>"), "<b>{}</b>: {}", rows)


def readable(key: str, value, names: dict[str, str] | None = None, limit: int = 120) -> str:
    """One stored value in words: a stage's label, a size in MB, a time in the desk's style, yes or no."""
    if isinstance(value, dict):
        value = value.get("label", value)
    if key in _LABELS and value not in (None, ""):
        # A value stored before a choice was renamed is shown as stored.
        with contextlib.suppress(ValueError):
            value = _LABELS[key](value).label
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif key in _SIZES and isinstance(value, int):
        value = size(value)
    elif key == "user" and isinstance(value, str) and names:
        value = names.get(value, value)
    elif isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, str) and (when := parse_datetime(value)) is not None:
        value = moment(when)
    text = "—" if value in (None, "", []) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
