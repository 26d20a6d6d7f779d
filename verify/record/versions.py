"""The version token of an edit form: a save made on a page someone else changed since it was opened is refused.

Every service that changes a case's record bumps `Case.version`; a form carries the version it
was opened at (and the last event it could have seen, to say what changed since) in hidden fields.
The save locks the case row and compares before it writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Max
from django.utils import timezone

from verify.models import Case, CaseEvent
from verify.workflow import Stage, WorkflowError

VERSION_FIELD = "case_version"
SEEN_EVENT_FIELD = "seen_event"


class StaleEdit(WorkflowError):
    """The case changed after the form was opened; nothing of this save was written."""

    def __init__(self, message: str, *, token: dict):
        super().__init__(message)
        # The token of the case as it is now: a form shown again with it saves over the change knowingly.
        self.token = token


@dataclass(frozen=True)
class Token:
    version: int | None
    seen_event: int | None


NO_TOKEN = Token(None, None)


def last_event_id(case_id: int) -> int:
    return CaseEvent.objects.filter(case_id=case_id).aggregate(last=Max("pk"))["last"] or 0


def token_for(case: Case) -> dict:
    """The hidden fields' values for a form opened on `case` now."""
    version = Case.objects.filter(pk=case.pk).values_list("version", flat=True).first()
    return {VERSION_FIELD: version, SEEN_EVENT_FIELD: last_event_id(case.pk)}


def _number(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def posted_token(data) -> Token:
    """The token a submitted form carries; a form without one (a script, an old page) is not checked."""
    return Token(_number(data.get(VERSION_FIELD)), _number(data.get(SEEN_EVENT_FIELD)))


def page_token(request, case: Case) -> dict:
    """The token to render: the one submitted, when a form is shown again with its errors, else a fresh one."""
    posted = posted_token(request.POST) if request.method == "POST" else NO_TOKEN
    if posted.version is None:
        return token_for(case)
    return {VERSION_FIELD: posted.version, SEEN_EVENT_FIELD: posted.seen_event}


def bump(case: Case) -> None:
    """Record that the case's record changed: forms opened before now are stale."""
    Case.objects.filter(pk=case.pk).update(version=F("version") + 1)
    case.version = Case.objects.filter(pk=case.pk).values_list("version", flat=True).get()


def lock_unchanged(*, case_id: int, token: Token) -> Case:
    """Lock the case row and return it, or raise StaleEdit naming who changed what since the token.

    Call inside the transaction that then makes the change, so no one can slip in between.
    """
    current = Case.objects.select_for_update().get(pk=case_id)
    if token.version is not None and current.version != token.version:
        raise StaleEdit(
            stale_message(current, since_event=token.seen_event),
            token={VERSION_FIELD: current.version, SEEN_EVENT_FIELD: last_event_id(current.pk)},
        )
    return current


# How each kind of event reads in "Dana changed the claim and added a sighting".
def _field_label(name: str) -> str:
    if name == "tags":
        return "the tags"
    try:
        return f"the {Case._meta.get_field(name).verbose_name}"
    except FieldDoesNotExist:  # a field renamed since the event was written is named as stored
        return f"the {name.replace('_', ' ')}"


def _what(event: CaseEvent) -> list[str]:
    old, new = event.old or {}, event.new or {}
    kinds = CaseEvent.Kind
    if event.kind == kinds.UPDATED:
        return [f"changed {_field_label(name)}" for name in new]
    if event.kind == kinds.STAGE_CHANGED:
        target = new.get("stage")
        label = Stage(target).label if target in Stage.values else target
        return [f"moved the case to {label}"]
    if event.kind == kinds.SIGHTING_ADDED:
        return ["added a sighting"]
    if event.kind == kinds.SIGHTING_CHANGED:
        return ["changed a sighting"]
    if event.kind == kinds.CHECKLIST_ANSWERED:
        return [f"answered the checklist ({old.get('question', 'a question')})"]
    if event.kind == kinds.ASSIGNED:
        return [f"assigned {new.get('user')} as {new.get('role')} reviewer"]
    if event.kind == kinds.UNASSIGNED:
        return [f"unassigned {old.get('user')}"]
    if event.kind == kinds.MEDIA_COLLECTED:
        return [f"added the file {new.get('original_name', '')}".rstrip()]
    if event.kind in (kinds.VERDICT_PROPOSED, kinds.VERDICT_APPROVED, kinds.VERDICT_SENT_BACK):
        verb = {"verdict_proposed": "proposed", "verdict_approved": "approved", "verdict_sent_back": "sent back"}
        return [f"{verb[event.kind]} verdict v{new.get('version', '')}"]
    if event.kind == kinds.OPENED:
        return []
    return [event.get_kind_display().lower()]


CHECKLIST_PART = "answered the checklist ("


def _joined(parts: list[str]) -> str:
    parts = list(dict.fromkeys(parts))
    # Several answers read as one: "answered the checklist (provenance, source, date)".
    questions = [part.removeprefix(CHECKLIST_PART)[:-1] for part in parts if part.startswith(CHECKLIST_PART)]
    if len(questions) > 1:
        first = next(i for i, part in enumerate(parts) if part.startswith(CHECKLIST_PART))
        parts = [part for part in parts if not part.startswith(CHECKLIST_PART)]
        parts.insert(first, f"{CHECKLIST_PART}{', '.join(questions)})")
    if len(parts) <= 1:
        return "".join(parts)
    # "changed the claim and changed the deadline" reads "changed the claim and the deadline".
    merged = []
    for i, part in enumerate(parts):
        if i and part.startswith("changed ") and parts[i - 1].startswith("changed "):
            part = part.removeprefix("changed ")
        merged.append(part)
    return ", ".join(merged[:-1]) + " and " + merged[-1]


def _person(user) -> str:
    if user is None:
        return "The system"
    return user.get_full_name() or user.get_username()


def stale_message(case: Case, *, since_event: int | None) -> str:
    """'Dana changed the claim and the deadline at 14:02 after you opened this page; ...'."""
    events = (
        CaseEvent.objects.filter(case_id=case.pk, pk__gt=since_event or 0).select_related("actor").order_by("pk")
        if since_event is not None
        else CaseEvent.objects.none()
    )
    by_person: dict[object, tuple[list[str], object]] = {}
    for event in events:
        parts, _ = by_person.get(event.actor_id, ([], None))
        by_person[event.actor_id] = ([*parts, *_what(event)], event)
    sentences = [
        f"{_person(last.actor)} {_joined(parts)} at {timezone.localtime(last.at):%H:%M}"
        for parts, last in by_person.values()
        if parts
    ]
    who = "; ".join(sentences) if sentences else f"Someone changed case #{case.pk}"
    return (
        f"{who} after you opened this page; your changes were not saved — review them below "
        "and save again to keep them."
    )
