"""Every change of a case's state, each in one transaction with the CaseEvent that records it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from verify import flags, workflow
from verify.models import (
    Assignment,
    Case,
    CaseEvent,
    ChecklistItem,
    ChecklistQuestion,
    Extraction,
    Flag,
    MediaRating,
    Sighting,
    Tag,
    Verdict,
    storable_json,
)
from verify.notices import sending
from verify.record import frozen, versions
from verify.workflow import DESK, EDITOR, REVIEWER, SYSTEM, Stage, WorkflowError, check_role

log = logging.getLogger(__name__)

# Case fields that desk staff edit directly; stage, duplicate_of and assignees
# change only through their own services below.
CASE_DETAIL_FIELDS = (
    "title",
    "claim",
    "priority",
    "deadline",
    "is_graphic",
    "shows_personal_data",
    "source_at_risk",
    "claimed_place",
    "claimed_latitude",
    "claimed_longitude",
    "claimed_at",
)
SIGHTING_FIELDS = ("media_item", "role", "url", "platform", "account", "posted_at", "caption", "reported_by")
CASE_EDITORS = {DESK, EDITOR, SYSTEM}


def _plain(value):
    """A JSON-friendly form of a field value for the audit trail."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return {"id": value.pk, "label": str(value)}
    return value


def record_event(*, case: Case, kind: str, by, old=None, new=None, note: str = "", media_item=None) -> CaseEvent:
    """Append one event to the case's history. Call only inside the transaction of the change.

    The people an event concerns hear of it once the change commits (verify.notices.sending)."""
    event = CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=by,
        old=storable_json(old or {}),
        new=storable_json(new or {}),
        note=storable_json(note),
        media_item=media_item,
    )
    sending.event_recorded(event)
    return event


def _check_detail_fields(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(CASE_DETAIL_FIELDS) - {"tags"})
    if unknown:
        raise WorkflowError(
            f"Cannot set {', '.join(unknown)} on a case here; editable details are: {', '.join(CASE_DETAIL_FIELDS)}"
        )


def _tags(names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({name.strip().lower() for name in names if name and name.strip()})
    return [Tag.objects.get_or_create(name=name)[0] for name in cleaned]


@transaction.atomic
def open_case(*, by, title: str, claim: str, tags: Iterable[str] = (), seed_key: str | None = None, **details) -> Case:
    """Open a case from a tip and give it the checklist from the current template."""
    check_role(by, CASE_EDITORS, "open cases")
    _check_detail_fields(details)
    case = Case(title=title, claim=claim, created_by=by, seed_key=seed_key, **details)
    case.full_clean(exclude=["tags"])
    case.save()
    tag_objects = _tags(tags)
    case.tags.set(tag_objects)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(case=case, key=q.key, prompt=q.prompt, required=q.required, position=q.position)
        for q in ChecklistQuestion.objects.filter(active=True)
    )
    snapshot = {name: _plain(getattr(case, name)) for name in ("title", "claim", "priority", "stage")}
    snapshot["tags"] = [t.name for t in tag_objects]
    record_event(case=case, kind=CaseEvent.Kind.OPENED, by=by, new=snapshot)
    return case


@transaction.atomic
def update_case(*, case: Case, by, changes: dict, token: versions.Token | None = None) -> Case:
    """Change a case's details; the event lists each changed field's old and new value.

    With the `token` of the form the changes come from, a case changed since that form was opened is refused.
    """
    check_role(by, CASE_EDITORS, "edit case details")
    _check_detail_fields(changes)
    current = versions.lock_unchanged(case_id=case.pk, token=token or versions.NO_TOKEN)
    frozen.check_editable(current, "change its details")
    old, new = {}, {}
    for name, value in changes.items():
        if name == "tags":
            before = sorted(current.tags.values_list("name", flat=True))
            tag_objects = _tags(t if isinstance(t, str) else t.name for t in value)
            after = [t.name for t in tag_objects]
            if before != after:
                current.tags.set(tag_objects)
                old["tags"], new["tags"] = before, after
        elif getattr(current, name) != value:
            old[name], new[name] = _plain(getattr(current, name)), _plain(value)
            setattr(current, name, value)
    if not old:
        return current
    current.full_clean(exclude=["tags"])
    current.version += 1
    current.save()
    case.version = current.version
    record_event(case=current, kind=CaseEvent.Kind.UPDATED, by=by, old=old, new=new)
    if flags.CLAIM_FIELDS & old.keys():
        flags.recompute_flags(current)
    return current


def _move(*, case: Case, to: Stage, by, note: str = "", extra: dict | None = None, event_data=None) -> Case:
    """Move the case from the stage the caller saw to `to`, or fail if someone moved it first.

    The UPDATE only matches the row if its stage and version are still what the
    caller loaded, so of two concurrent moves exactly one succeeds.
    """
    seen_stage, seen_version = case.stage, case.version
    fields = {"stage": to, "version": F("version") + 1, "updated_at": timezone.now(), **(extra or {})}
    matched = Case.objects.filter(pk=case.pk, stage=seen_stage, version=seen_version).update(**fields)
    if not matched:
        now = Case.objects.filter(pk=case.pk).values_list("stage", flat=True).first()
        now_label = Stage(now).label if now else "deleted"
        raise workflow.StaleCase(
            f"Case #{case.pk} was changed by someone else while you were working on it "
            f"(it is now in {now_label}, you saw {Stage(seen_stage).label}). Reload it and try again."
        )
    case.refresh_from_db()
    # Flags in other cases cite this case's stage and verdict (a verdict changes only with the stage).
    transaction.on_commit(partial(_refresh_flags_citing, case.pk))
    record_event(
        case=case,
        kind=CaseEvent.Kind.STAGE_CHANGED,
        by=by,
        old={"stage": seen_stage},
        new={"stage": str(to), **(event_data or {})},
        note=note,
    )
    return case


def _refresh_flags_citing(case_id: int) -> None:
    # The indexes load numpy and Pillow; only a stage change needs them here.
    from verify import similarity
    from verify.clips import services as clips

    similarity.refresh_flags_citing(case_id)
    clips.refresh_flags_citing(case_id)


def move_case(*, case: Case, to: Stage, by, note: str = "", event_data=None) -> Case:
    """Move a case whose move the caller has checked (for services outside this module, e.g. reopening)."""
    return _move(case=case, to=to, by=by, note=note, event_data=event_data)


@transaction.atomic
def transition_case(*, case: Case, to: str, by, note: str = "") -> Case:
    """Move a case to another stage, if the workflow lets `by` make that move now."""
    target = workflow.parse_stage(to) if isinstance(to, str) else to
    workflow.check_transition(case=case, to=target, user=by, note=note)
    extra = {}
    if target == Stage.ON_HOLD:
        extra["stage_before_hold"] = case.stage
    elif case.stage == Stage.ON_HOLD:
        extra["stage_before_hold"] = ""
    return _move(case=case, to=target, by=by, note=note, extra=extra)


@transaction.atomic
def mark_duplicate(*, case: Case, of: Case, by, note: str = "") -> Case:
    """Close `case` as a duplicate of the surviving case `of`."""
    if of.pk == case.pk:
        raise WorkflowError(f"Case #{case.pk} cannot be a duplicate of itself")
    survivor = of
    if survivor.stage == Stage.DUPLICATE:
        raise WorkflowError(
            f"Case #{of.pk} is itself a duplicate of case #{of.duplicate_of_id}; mark it a duplicate of that one"
        )
    if survivor.stage == Stage.DISMISSED:
        raise WorkflowError(f"Case #{of.pk} is dismissed; a duplicate must point at a case that is still kept")
    workflow.check_transition(case=case, to=Stage.DUPLICATE, user=by, via="mark as duplicate of…")
    return _move(
        case=case,
        to=Stage.DUPLICATE,
        by=by,
        note=note,
        extra={"duplicate_of": survivor},
        event_data={"duplicate_of": survivor.pk},
    )


def _assignment_role(role: str) -> Assignment.Role:
    try:
        return Assignment.Role(role)
    except ValueError:
        known = ", ".join(Assignment.Role.values)
        raise WorkflowError(f"{role!r} is not a reviewer role; the roles are: {known}") from None


@transaction.atomic
def assign_reviewer(*, case: Case, user, by, role: str = Assignment.Role.LEAD) -> Assignment:
    """Make `user` the case's lead or second reviewer, replacing whoever held that role."""
    role = _assignment_role(role)
    if REVIEWER not in workflow.roles_of(user):
        raise WorkflowError(f"{user.get_username()} is not a reviewer; only reviewers can be assigned to cases")
    by_roles = workflow.roles_of(by)
    # Locked before reading who holds which role, so that the rules below see what is committed.
    Case.objects.select_for_update().filter(pk=case.pk).first()
    current = {a.role: a for a in case.assignments.select_related("user")}
    lead = current.get(Assignment.Role.LEAD)
    workflow.check_assigning(case=case, user=user, by=by, role=role, lead=lead.user if lead else None)
    if case.stage in workflow.CLOSED_STAGES:
        raise WorkflowError(f"Case #{case.pk} is {Stage(case.stage).label}; closed cases are not assigned")
    held = current.get(role)
    if held and held.user_id == user.pk:
        return held
    if held and not by_roles & {DESK, EDITOR}:
        raise WorkflowError(f"Case #{case.pk} already has a {role.label.lower()} ({held.user.get_username()})")
    other = next((a for a in current.values() if a.user_id == user.pk), None)
    if other:
        raise WorkflowError(f"{user.get_username()} is already {other.get_role_display().lower()} on case #{case.pk}")
    if held:
        _unassign(case=case, assignment=held, by=by)
    try:
        with transaction.atomic():
            assignment = Assignment.objects.create(case=case, user=user, role=role, assigned_by=by)
    except IntegrityError:
        raise workflow.StaleCase(f"Someone else just assigned case #{case.pk}; reload it and try again") from None
    versions.bump(case)
    record_event(case=case, kind=CaseEvent.Kind.ASSIGNED, by=by, new={"user": user.get_username(), "role": str(role)})
    return assignment


def _unassign(*, case: Case, assignment: Assignment, by, note: str = "") -> None:
    record_event(
        case=case,
        kind=CaseEvent.Kind.UNASSIGNED,
        by=by,
        old={"user": assignment.user.get_username(), "role": assignment.role},
        note=note,
    )
    assignment.delete()
    versions.bump(case)


@transaction.atomic
def unassign_reviewer(*, case: Case, role: str, by, note: str = "") -> None:
    role = _assignment_role(role)
    assignment = case.assignments.select_related("user").filter(role=role).first()
    if assignment is None:
        raise WorkflowError(f"Case #{case.pk} has no {role.label.lower()} to unassign")
    if assignment.user != by:
        check_role(by, {DESK, EDITOR}, "unassign other reviewers")
    _unassign(case=case, assignment=assignment, by=by, note=note)


@transaction.atomic
def add_sighting(*, case: Case, by, **fields) -> Sighting:
    workflow.check_adding_sighting(case=case, by=by)
    unknown = sorted(set(fields) - set(SIGHTING_FIELDS))
    if unknown:
        raise WorkflowError(f"Unknown sighting field(s): {', '.join(unknown)}")
    frozen.check_editable(Case.objects.select_for_update().get(pk=case.pk), "add sightings")
    sighting = Sighting(case=case, added_by=by, **fields)
    sighting.full_clean()
    sighting.save()
    versions.bump(case)
    record_event(
        case=case,
        kind=CaseEvent.Kind.SIGHTING_ADDED,
        by=by,
        new={name: _plain(getattr(sighting, name)) for name in ("role", "url", "platform", "account", "posted_at")},
    )
    flags.recompute_flags(case)
    return sighting


@transaction.atomic
def update_sighting(*, sighting: Sighting, by, changes: dict) -> Sighting:
    check_role(by, {DESK, EDITOR, REVIEWER, SYSTEM}, "edit sightings")
    current = Sighting.objects.select_for_update().get(pk=sighting.pk)
    frozen.check_editable(Case.objects.select_for_update().get(pk=current.case_id), "change its sightings")
    old, new = {}, {}
    for name, value in changes.items():
        if name not in SIGHTING_FIELDS:
            raise WorkflowError(f"Unknown sighting field: {name}")
        if getattr(current, name) != value:
            old[name], new[name] = _plain(getattr(current, name)), _plain(value)
            setattr(current, name, value)
    if old:
        current.full_clean()
        current.save()
        versions.bump(current.case)
        if Sighting.case.is_cached(sighting):
            sighting.case.version = current.case.version
        record_event(case=current.case, kind=CaseEvent.Kind.SIGHTING_CHANGED, by=by, old=old, new=new)
        flags.recompute_flags(current.case)
    return current


# Stages in which the checklist may no longer change: a verdict rests on it, or the case is closed.
CHECKLIST_FROZEN_WHY = {
    Stage.AWAITING_APPROVAL: "the proposed verdict rests on these answers; an editor must send it back first",
    Stage.PUBLISHED: "the published verdict and its report rest on these answers",
    Stage.DUPLICATE: "the case is closed as a duplicate; answer on the surviving case",
    Stage.DISMISSED: "the case is dismissed; reopen it to triage first",
}
CHECKLIST_FROZEN_STAGES = tuple(CHECKLIST_FROZEN_WHY)


@transaction.atomic
def answer_checklist_item(
    *, item: ChecklistItem, by, status: str, notes: str | None = None, evidence_links: list[str] | None = None
) -> ChecklistItem:
    """Record a reviewer's answer to one checklist question, while the case is still being worked on."""
    # Locked and read afresh, so that an answer cannot slip in while the verdict is proposed or approved.
    case = Case.objects.select_for_update().get(pk=item.case_id)
    if case.stage in CHECKLIST_FROZEN_STAGES:
        raise workflow.ConditionNotMet(
            f"Case #{case.pk} is {Stage(case.stage).label}, so its checklist can no longer change: "
            + CHECKLIST_FROZEN_WHY[case.stage]
        )
    if not case.assignments.filter(user=by).exists():
        check_role(by, {EDITOR}, "answer the checklist of a case not assigned to them")
    status = ChecklistItem.Status(status)
    old = {"status": item.status, "notes": item.notes, "evidence_links": item.evidence_links}
    item.status = status
    if notes is not None:
        item.notes = notes
    if evidence_links is not None:
        item.evidence_links = [link.strip() for link in evidence_links if link.strip()]
    item.updated_by = by
    item.save()
    versions.bump(case)
    if ChecklistItem.case.is_cached(item):
        item.case.version = case.version
    new = {"status": str(item.status), "notes": item.notes, "evidence_links": item.evidence_links}
    record_event(case=case, kind=CaseEvent.Kind.CHECKLIST_ANSWERED, by=by, old={"question": item.key, **old}, new=new)
    return item


@transaction.atomic
def propose_verdict(
    *,
    case: Case,
    by,
    rating: str,
    confidence: str,
    summary: str,
    rationale: str,
    media_category: str = "",
    media_ratings: list[dict] | None = None,
    evidence: list[dict] | None = None,
) -> Verdict:
    """A case's assigned reviewer proposes a verdict; the case goes to awaiting approval.

    `media_ratings` holds one {"media_item", "category", "original_context", "original_link"}
    per file judged; `evidence` the sightings, extractions, flags and links the verdict rests on.
    """
    check_role(by, {REVIEWER}, "propose verdicts")
    seen = case
    # Locked and read afresh: of two reviewers proposing at once, the second waits here
    # until the first has committed, then is told whose verdict came first.
    case = Case.objects.select_for_update().get(pk=seen.pk)
    _check_no_verdict_pending(case, by, seen_version=seen.version)
    if not case.assignments.filter(user=by).exists():
        raise workflow.NotPermitted(
            f"{by.get_username()} is not assigned to case #{case.pk}; only its reviewers propose its verdict"
        )
    open_required = list(
        case.checklist.filter(required=True, status=ChecklistItem.Status.OPEN).values_list("prompt", flat=True)
    )
    if open_required:
        raise workflow.ConditionNotMet(f"Answer the required checklist questions first: {'; '.join(open_required)}")
    workflow.check_transition(case=case, to=Stage.AWAITING_APPROVAL, user=by, via="propose a verdict")
    number = (case.verdicts.aggregate(n=Max("number"))["n"] or 0) + 1
    verdict = Verdict(
        case=case,
        number=number,
        rating=rating,
        confidence=confidence,
        summary=summary.strip(),
        rationale=rationale.strip(),
        media_category=media_category,
        evidence=_checked_evidence(case, evidence or []),
        author=by,
    )
    verdict.full_clean()
    verdict.save()
    _rate_media(verdict, media_ratings or [])
    _move(case=case, to=Stage.AWAITING_APPROVAL, by=by, event_data={"verdict": number})
    record_event(
        case=case,
        kind=CaseEvent.Kind.VERDICT_PROPOSED,
        by=by,
        new={"version": number, "rating": rating, "confidence": confidence, "summary": verdict.summary},
    )
    seen.stage, seen.version, seen.updated_at = case.stage, case.version, case.updated_at
    return verdict


def _check_no_verdict_pending(case: Case, by, *, seen_version: int) -> None:
    """Refuse a proposal while another one awaits an editor, saying whose it is and when it came."""
    if case.stage != Stage.AWAITING_APPROVAL:
        return
    pending = case.verdicts.filter(status=Verdict.Status.PROPOSED).select_related("author").order_by("-number").first()
    if pending is None:
        return
    mine = pending.author_id == by.pk
    author = "you" if mine else pending.author.get_username()
    if case.version != seen_version and mine:
        # The same form sent twice: the first copy went through.
        raise workflow.StaleCase(
            f"You proposed verdict v{pending.number} on case #{case.pk} a moment ago and it awaits an editor; "
            "this second copy was not saved"
        )
    if case.version != seen_version:
        raise workflow.StaleCase(
            f"{author} proposed verdict v{pending.number} on case #{case.pk} while you were writing yours; "
            "it now awaits an editor. Yours was not saved: reload the case to read theirs."
        )
    raise workflow.ConditionNotMet(
        f"Case #{case.pk} already awaits an editor's decision on verdict v{pending.number} by {author}; "
        "a new verdict can be proposed once an editor sends that one back"
    )


EVIDENCE_KINDS = ("sighting", "extraction", "flag", "link")


def flag_label(flag: Flag) -> str:
    """A flag as evidence lists it: severity, message and, for a file's flag, the file's name."""
    on_file = f" ({flag.media_item.original_name})" if flag.media_item else ""
    return f"{flag.get_severity_display()}: {flag.message}{on_file}"


def _missing_flag(case: Case, flag_id) -> WorkflowError:
    owner = Flag.objects.filter(pk=flag_id).values_list("case_id", flat=True).first()
    if owner is not None:
        return WorkflowError(
            f"Flag #{flag_id} belongs to case #{owner}, not case #{case.pk}; "
            "a verdict rests only on its own case's flags"
        )
    return WorkflowError(
        f"Flag #{flag_id} is not a flag of case #{case.pk} (flags are recomputed when readings or sightings change); "
        "reload the form and choose again"
    )


def _checked_evidence(case: Case, evidence: list[dict]) -> list[dict]:
    """Evidence entries that point at this case's own sightings, extractions and flags, or at a web link.

    Each keeps a label, since flags are recomputed (and their ids replaced) when a file's readings change.
    """
    checked = []
    sightings = {s.pk: s for s in case.sightings.all()}
    extractions = {e.pk: e for e in Extraction.objects.filter(media_item__cases=case).select_related("media_item")}
    case_flags = {f.pk: f for f in case.flags.select_related("media_item")}
    for entry in evidence:
        kind = entry.get("kind")
        if kind == "sighting" and entry.get("id") in sightings:
            checked.append({"kind": kind, "id": entry["id"], "label": str(sightings[entry["id"]])})
        elif kind == "extraction" and entry.get("id") in extractions:
            extraction = extractions[entry["id"]]
            label = f"{extraction.extractor} reading of {extraction.media_item.original_name}"
            checked.append({"kind": kind, "id": entry["id"], "label": label})
        elif kind == "flag":
            if entry.get("id") not in case_flags:
                raise _missing_flag(case, entry.get("id"))
            checked.append({"kind": kind, "id": entry["id"], "label": flag_label(case_flags[entry["id"]])})
        elif kind == "link" and str(entry.get("url", "")).startswith(("http://", "https://")):
            checked.append({"kind": kind, "url": entry["url"], "label": entry.get("label") or entry["url"]})
        else:
            raise WorkflowError(f"Evidence {entry!r} is not a sighting, reading, flag or web link of case #{case.pk}")
    return checked


def _rate_media(verdict: Verdict, ratings: list[dict]) -> None:
    case_media = set(verdict.case.case_media.values_list("media_item_id", flat=True))
    for rating in ratings:
        item = rating["media_item"]
        if item.pk not in case_media:
            raise WorkflowError(f"{item} is not one of case #{verdict.case_id}'s files")
        media_rating = MediaRating(
            verdict=verdict,
            media_item=item,
            category=rating["category"],
            original_context=(rating.get("original_context") or "").strip(),
            original_link=(rating.get("original_link") or "").strip(),
        )
        media_rating.full_clean()
        media_rating.save()


def _pending_verdict(case: Case, by, doing: str) -> Verdict:
    verdict = case.verdicts.filter(status=Verdict.Status.PROPOSED).order_by("-number").first()
    if verdict is None:
        raise WorkflowError(f"Case #{case.pk} has no proposed verdict to {doing}")
    if verdict.author_id == by.pk:
        raise workflow.NotPermitted(
            f"{by.get_username()} wrote verdict v{verdict.number} of case #{case.pk}; another editor must {doing} it"
        )
    return verdict


@transaction.atomic
def approve_verdict(*, case: Case, by, note: str = "") -> Verdict:
    """An editor who did not write it approves the proposed verdict; the case is published, and frozen."""
    # Imported here: publishing moves cases through this module.
    from verify.record import publishing

    check_role(by, {EDITOR}, "approve verdicts")
    verdict = _pending_verdict(case, by, "approve")
    workflow.check_transition(case=case, to=Stage.PUBLISHED, user=by, via="approve the verdict")
    publishing.check_saw_every_file(case, verdict)
    _move(case=case, to=Stage.PUBLISHED, by=by, note=note, event_data={"verdict": verdict.number})
    verdict.status = Verdict.Status.APPROVED
    verdict.reviewed_by, verdict.reviewed_at, verdict.review_note = by, timezone.now(), note
    verdict.save()
    record_event(case=case, kind=CaseEvent.Kind.VERDICT_APPROVED, by=by, new={"version": verdict.number}, note=note)
    publishing.publish(case=case, verdict=verdict, by=by)
    return verdict


@transaction.atomic
def send_back_verdict(*, case: Case, by, reason: str) -> Verdict:
    """An editor returns the proposed verdict to review, saying why."""
    check_role(by, {EDITOR}, "send verdicts back")
    if not reason.strip():
        raise WorkflowError("Say why the verdict goes back; the reviewer reads it in the case history")
    verdict = _pending_verdict(case, by, "send back")
    workflow.check_transition(case=case, to=Stage.IN_REVIEW, user=by, via="send the verdict back")
    _move(case=case, to=Stage.IN_REVIEW, by=by, note=reason, event_data={"verdict": verdict.number})
    verdict.status = Verdict.Status.SENT_BACK
    verdict.reviewed_by, verdict.reviewed_at, verdict.review_note = by, timezone.now(), reason
    verdict.save()
    record_event(case=case, kind=CaseEvent.Kind.VERDICT_SENT_BACK, by=by, new={"version": verdict.number}, note=reason)
    return verdict


# Cases a reviewer may take: not closed, not waiting for someone else.
TAKEABLE_STAGES = (Stage.TRIAGE, Stage.IN_REVIEW)


@transaction.atomic
def take_next_case(*, by) -> Case | None:
    """Assign `by` as lead to the oldest highest-priority unassigned case in triage or review.

    Refused once `by` holds TAKE_NEXT_CAP open cases (0: no cap); the desk and editors may still assign more.
    """
    check_role(by, {REVIEWER}, "take cases")
    _check_take_next_cap(by)
    candidates = (
        Case.objects.filter(stage__in=TAKEABLE_STAGES, assignments__isnull=True)
        .order_by("-priority", "created_at", "pk")
        .select_for_update(skip_locked=True, of=("self",))
    )
    case = candidates.first()
    if case is None:
        return None
    assign_reviewer(case=case, user=by, by=by, role=Assignment.Role.LEAD)
    return case


@transaction.atomic
def take_case(*, case: Case, by) -> Assignment:
    """`by` takes a case they chose: as lead, or as second reviewer of a case someone leads.

    Within TAKE_NEXT_CAP, as take next is, unless `by` is also desk staff or an editor, who may assign anyone."""
    if not workflow.roles_of(by) & {DESK, EDITOR}:
        _check_take_next_cap(by, rule="a reviewer takes at most")
    role = (
        Assignment.Role.SECOND if case.assignments.filter(role=Assignment.Role.LEAD).exists() else Assignment.Role.LEAD
    )
    return assign_reviewer(case=case, user=by, by=by, role=role)


def _check_take_next_cap(by, rule: str = "take next gives a reviewer at most") -> None:
    cap = settings.TAKE_NEXT_CAP
    if not cap:
        return
    # The reviewer's row is locked so that two quick clicks on "take next" count one after the other.
    get_user_model().objects.select_for_update().filter(pk=by.pk).first()
    held = Case.objects.filter(stage__in=workflow.OPEN_STAGES, assignments__user=by).distinct().count()
    if held >= cap:
        raise workflow.ConditionNotMet(
            f"You have {held} open case{'' if held == 1 else 's'}; {rule} {cap}. "
            "Finish or hand back one first, or ask the desk to assign you another."
        )
