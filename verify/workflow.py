"""The stage table: which moves a case can make, who may make them, and what must hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models


class Stage(models.TextChoices):
    NEW = "new", "New"
    TRIAGE = "triage", "Triage"
    COLLECTING = "collecting", "Collecting"
    IN_REVIEW = "in_review", "In review"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    PUBLISHED = "published", "Published"
    ON_HOLD = "on_hold", "On hold"
    DUPLICATE = "duplicate", "Duplicate"
    DISMISSED = "dismissed", "Dismissed"


# Roles are Django groups of the same name (created by a migration).
DESK = "desk"
REVIEWER = "reviewer"
EDITOR = "editor"
ROLES = (DESK, REVIEWER, EDITOR)
# The pipeline moves cases too; it acts as this role, never as a person.
SYSTEM = "system"

OPEN_STAGES = (Stage.NEW, Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW, Stage.AWAITING_APPROVAL, Stage.ON_HOLD)
CLOSED_STAGES = (Stage.PUBLISHED, Stage.DUPLICATE, Stage.DISMISSED)
# Stages a case on hold may return to (the one it left, checked by `resumes_where_it_left`).
RESUMABLE_STAGES = (Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW)


class WorkflowError(Exception):
    """A move or change the desk's rules do not allow; the message is shown to the user."""


class NotPermitted(WorkflowError):
    """The user's role does not allow this."""


class ConditionNotMet(WorkflowError):
    """The move exists, but something it needs does not hold yet."""


class StaleCase(WorkflowError):
    """Someone else changed the case first."""


# A check gets the case, the target stage and the user's note; it returns None
# when it holds, or a sentence saying what is missing.
Check = Callable[[object, str, str], str | None]


def has_media(case, to: str, note: str) -> str | None:
    if not case.media_items.exists():
        return "the case has no media to collect yet; attach a file first"
    return None


def has_lead_reviewer(case, to: str, note: str) -> str | None:
    if not case.assignments.filter(role="lead").exists():
        return "the case has no lead reviewer; assign one first"
    return None


def pipeline_finished(case, to: str, note: str) -> str | None:
    pending = case.pending_extraction_count()
    if pending:
        return f"{pending} extraction(s) of this case's media have no outcome yet"
    return None


def has_note(case, to: str, note: str) -> str | None:
    if not note.strip():
        return "give a reason (it goes into the case history)"
    return None


def resumes_where_it_left(case, to: str, note: str) -> str | None:
    if case.stage_before_hold and case.stage_before_hold != to:
        return f"the case was on hold from {Stage(case.stage_before_hold).label}; it resumes there"
    return None


@dataclass(frozen=True)
class Transition:
    source: Stage
    target: Stage
    roles: frozenset[str]
    checks: tuple[Check, ...] = ()
    # Moves that carry more than a stage (a verdict, a duplicate target) have their
    # own service; the generic "move to stage" refuses them and names that service.
    only_via: str = ""


REOPEN = "reopen for a correction or an update"


def _t(source, target, roles, checks=(), only_via="") -> Transition:
    return Transition(Stage(source), Stage(target), frozenset(roles), tuple(checks), only_via)


_ACTIVE = (Stage.NEW, Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW, Stage.AWAITING_APPROVAL)

TRANSITIONS: tuple[Transition, ...] = (
    # The seed loader and automated intake triage as the system.
    _t(Stage.NEW, Stage.TRIAGE, {DESK, EDITOR, SYSTEM}),
    _t(Stage.TRIAGE, Stage.COLLECTING, {DESK, EDITOR, SYSTEM}, [has_media]),
    # A claim with no file to collect (a figure, a statement) goes straight to review.
    _t(Stage.TRIAGE, Stage.IN_REVIEW, {DESK, EDITOR}, [has_lead_reviewer]),
    _t(Stage.COLLECTING, Stage.IN_REVIEW, {SYSTEM, DESK, EDITOR}, [pipeline_finished]),
    _t(Stage.IN_REVIEW, Stage.AWAITING_APPROVAL, {REVIEWER}, only_via="propose a verdict"),
    _t(Stage.AWAITING_APPROVAL, Stage.PUBLISHED, {EDITOR}, only_via="approve the verdict"),
    # The system sends a verdict back when a file arrives after it was proposed.
    _t(Stage.AWAITING_APPROVAL, Stage.IN_REVIEW, {EDITOR, SYSTEM}, only_via="send the verdict back"),
    # A published record changes only through a correction or an update, approved again.
    _t(Stage.PUBLISHED, Stage.IN_REVIEW, {EDITOR}, [has_note], only_via=REOPEN),
    # More footage arrived after review started: collect it, then review again.
    _t(Stage.IN_REVIEW, Stage.COLLECTING, {DESK, EDITOR, SYSTEM}, [has_media]),
    *(_t(stage, Stage.ON_HOLD, {DESK, EDITOR}, [has_note]) for stage in RESUMABLE_STAGES),
    *(_t(Stage.ON_HOLD, stage, {DESK, EDITOR}, [resumes_where_it_left]) for stage in RESUMABLE_STAGES),
    *(
        _t(stage, Stage.DUPLICATE, {DESK, EDITOR}, only_via="mark as duplicate of…")
        for stage in (*_ACTIVE, Stage.ON_HOLD)
    ),
    *(_t(stage, Stage.DISMISSED, {DESK, EDITOR}, [has_note]) for stage in (*_ACTIVE, Stage.ON_HOLD)),
    _t(Stage.DISMISSED, Stage.TRIAGE, {DESK, EDITOR}, [has_note]),
)

_BY_EDGE = {(t.source, t.target): t for t in TRANSITIONS}


def parse_stage(value: str) -> Stage:
    """The Stage named by `value` (its code or its label), or a WorkflowError listing the valid ones."""
    for stage in Stage:
        if value in (stage.value, stage.label) or value.strip().lower() == stage.label.lower():
            return stage
    known = ", ".join(s.value for s in Stage)
    raise WorkflowError(f"Unknown stage {value!r}; stages are: {known}")


def transition_for(source: str, target: str) -> Transition:
    source, target = Stage(source), Stage(target)
    if source == target:
        raise WorkflowError(f"The case is already in {target.label}")
    try:
        return _BY_EDGE[(source, target)]
    except KeyError:
        allowed = ", ".join(t.target.label for t in TRANSITIONS if t.source == source) or "none (it is closed)"
        raise WorkflowError(
            f"A case cannot move from {source.label} to {target.label}; from {source.label} it can go to: {allowed}"
        ) from None


def moves_from(stage: str) -> list[Transition]:
    return [t for t in TRANSITIONS if t.source == stage]


def roles_of(user) -> frozenset[str]:
    """The desk roles a user holds; a superuser holds all of them."""
    if user is None:
        return frozenset({SYSTEM})
    if not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(ROLES)
    cached = getattr(user, "_desk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._desk_roles = cached
    return cached


def check_role(user, allowed: frozenset[str] | set[str], doing: str) -> None:
    if not roles_of(user) & set(allowed):
        who = "the pipeline" if user is None else f"{user.get_username()}"
        needed = " or ".join(sorted(set(allowed) - {SYSTEM})) or "the pipeline"
        raise NotPermitted(f"Only {needed} staff may {doing}; {who} is not")


def check_adding_sighting(*, case, by) -> None:
    """Raise NotPermitted unless `by` may add a sighting to `case`.

    The desk, editors and the pipeline add sightings to any case; a reviewer adds the earlier
    appearances they find to the cases they are assigned to, and to no other.
    """
    check_role(by, {DESK, EDITOR, REVIEWER, SYSTEM}, "add sightings")
    if roles_of(by) & {DESK, EDITOR, SYSTEM}:
        return
    if not case.assignments.filter(user=by).exists():
        raise NotPermitted(
            f"{by.get_username()} is not assigned to case #{case.pk}; a reviewer adds sightings to their own cases only"
        )


def check_assigning(*, case, user, by, role: str, lead=None) -> None:
    """Raise NotPermitted unless `by` may make `user` the `role` reviewer of `case`, whose lead is `lead` (or None).

    The desk and editors assign anyone to either role. A reviewer only takes a case
    for themself, and only as its lead: a second reviewer is a check on the lead, so
    the desk or an editor chooses them, never the reviewer who would do the checking.
    """
    if roles_of(by) & {DESK, EDITOR}:
        return
    if by != user:
        check_role(by, {DESK, EDITOR}, "assign other people to cases")
    check_role(by, {REVIEWER}, "take cases")
    # "second" is Assignment.Role.SECOND (models import this module, not the other way round).
    if role != "second" or (lead is not None and lead.pk == user.pk):
        return
    if lead is None:
        raise NotPermitted(
            f"Only the desk or an editor can add a second reviewer to case #{case.pk}; "
            f"{user.get_username()} can take it as lead"
        )
    raise NotPermitted(
        f"Only the desk or an editor can add a second reviewer to a case {lead.get_username()} leads (case #{case.pk})"
    )


def check_transition(*, case, to: str, user, note: str = "", via: str = "") -> Transition:
    """Raise a WorkflowError saying why `user` may not move `case` to `to`; else return the move."""
    move = transition_for(case.stage, to)
    if move.only_via and move.only_via != via:
        raise WorkflowError(f"Moving to {move.target.label} is not a plain stage change: {move.only_via} instead")
    check_role(user, move.roles, f"move a case from {move.source.label} to {move.target.label}")
    for check in move.checks:
        problem = check(case, move.target, note)
        if problem:
            raise ConditionNotMet(f"Cannot move case #{case.pk} to {move.target.label}: {problem}")
    return move
