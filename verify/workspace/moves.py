"""The next moves a person may make on a case, as the workspace header offers them, and the view that makes them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from verify import services, workflow
from verify.desk.formats import person
from verify.models import Assignment, Case, Verdict
from verify.record import versions
from verify.workflow import REVIEWER, Stage, WorkflowError

# What a stage move is called on its button, where "Move to <stage>" says it less well.
STAGE_LABELS = {Stage.ON_HOLD: "Put on hold", Stage.DISMISSED: "Dismiss"}


@dataclass(frozen=True)
class Move:
    """One button of the header: what it does, where it posts (or links), and the inputs it needs."""

    kind: str  # assign, take, stage, duplicate, propose, approve, send-back, reopen
    label: str
    url: str
    target: str = ""
    needs_reason: bool = False
    # Why the move cannot be made yet (a condition of the workflow); the button is shown disabled with it.
    blocked: str = ""


def next_moves(case: Case, user, *, assignments: list[Assignment]) -> list[Move]:
    """The moves `user` may make on `case` now, in the order a desk works: people first, then stages."""
    roles = workflow.roles_of(user)
    move_url = reverse("admin:verify_case_move", args=[case.pk])
    moves = []
    is_open = case.stage not in workflow.CLOSED_STAGES
    has_lead = any(a.role == Assignment.Role.LEAD for a in assignments)
    assigned = any(a.user_id == user.pk for a in assignments)
    if is_open and user.has_perm("verify.assign_case"):
        moves.append(Move("assign", "Assign a reviewer", reverse("admin:verify_case_assign", args=[case.pk])))
    elif is_open and REVIEWER in roles and not has_lead:
        moves.append(Move("take", "Take as lead", move_url))
    for transition in workflow.moves_from(case.stage):
        if not roles & transition.roles:
            continue
        move = _move_for(case, transition, move_url, assigned=assigned, user=user)
        if move is not None:
            moves.append(move)
    return moves


def _move_for(case: Case, transition: workflow.Transition, move_url: str, *, assigned: bool, user) -> Move | None:
    target = transition.target
    if transition.only_via == "propose a verdict":
        if not assigned:
            return None
        return Move("propose", "Propose a verdict", reverse("admin:verify_case_propose_verdict", args=[case.pk]))
    if transition.only_via in ("approve the verdict", "send the verdict back"):
        review_url = reverse("admin:verify_case_review_verdict", args=[case.pk])
        verdict = case.verdicts.filter(status=Verdict.Status.PROPOSED).only("author_id").first()
        # The verdict's author may neither approve nor send back their own verdict (services._pending_verdict).
        if verdict is None or verdict.author_id == user.pk:
            return None
        if transition.only_via == "approve the verdict":
            return Move("approve", "Approve and publish", review_url)
        return Move("send-back", "Send back to review", review_url, needs_reason=True)
    if transition.only_via == "mark as duplicate of…":
        return Move("duplicate", "Mark as duplicate", move_url, target=target)
    if transition.only_via == workflow.REOPEN:
        return Move("reopen", "Reopen for a correction", reverse("admin:verify_case_reopen", args=[case.pk]))
    if transition.only_via:
        return None
    needs_reason = workflow.has_note in transition.checks
    # The reason is typed with the move; every other condition must already hold.
    conditions = [check for check in transition.checks if check is not workflow.has_note]
    blocked = next((problem for check in conditions if (problem := check(case, target, ""))), "")
    label = STAGE_LABELS.get(target) or (
        f"Resume in {target.label}" if case.stage == Stage.ON_HOLD else f"Move to {target.label}"
    )
    return Move("stage", label, move_url, target=target, needs_reason=needs_reason, blocked=blocked)


def move_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    """Make one move from the header: a stage change, a duplicate, or taking the case; every write through a service."""
    if request.method != "POST" or not request.user.has_perm("verify.view_case"):
        raise PermissionDenied
    case = get_object_or_404(Case, pk=case_id)
    note = request.POST.get("note", "").strip()
    try:
        with transaction.atomic():
            versions.lock_unchanged(case_id=case.pk, token=versions.posted_token(request.POST))
            messages.success(request, _make(request, case, request.POST.get("move", ""), note))
    except (WorkflowError, ValidationError) as exc:
        messages.error(request, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return redirect(reverse("admin:verify_case_change", args=[case.pk]))


def _make(request: HttpRequest, case: Case, move: str, note: str) -> str:
    if move == "take":
        services.assign_reviewer(case=case, user=request.user, by=request.user, role=Assignment.Role.LEAD)
        return f"Case #{case.pk} is yours to lead, {person(request.user)}."
    if move == "duplicate":
        number = request.POST.get("duplicate_of", "").strip().removeprefix("#")
        survivor = Case.objects.filter(pk=number).first() if number.isdigit() else None
        if survivor is None:
            raise WorkflowError(
                f"No case #{number} exists; give the surviving case's number"
                if number
                else "Give the surviving case's number to mark this one as its duplicate"
            )
        services.mark_duplicate(case=case, of=survivor, by=request.user, note=note)
        return f"Case #{case.pk} is marked as a duplicate of #{survivor.pk}."
    if move == "stage":
        stage = workflow.parse_stage(request.POST.get("to", ""))
        services.transition_case(case=case, to=stage, by=request.user, note=note)
        return f"Case #{case.pk} moved to {stage.label}."
    raise WorkflowError(f"{move!r} is not a move the case page offers")
