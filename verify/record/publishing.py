"""Publishing an approved verdict as a frozen publication, reopening a published case, and
sending a verdict back when a file arrives after it was proposed."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from verify import services, workflow
from verify.models import Case, CaseEvent, MediaItem, Publication, Verdict
from verify.record import frozen
from verify.record.snapshot import snapshot_document
from verify.reports import load_report_case
from verify.workflow import EDITOR, Stage, WorkflowError, check_role

REOPEN_KINDS = {
    Publication.Kind.CORRECTION: "a correction",
    Publication.Kind.UPDATE: "an update",
}


def _last_reopening(case: Case) -> CaseEvent | None:
    return (
        case.events.filter(kind=CaseEvent.Kind.STAGE_CHANGED, old__stage=Stage.PUBLISHED).order_by("-at", "-pk").first()
    )


def publish(*, case: Case, verdict: Verdict, by) -> Publication:
    """Freeze what the approval of `verdict` publishes. Call inside approve_verdict's transaction,
    after the case moved to Published and the verdict was marked approved."""
    loaded = load_report_case(case.pk)
    earlier = sorted(loaded.publications.all(), key=lambda p: p.number)
    number = len(earlier) + 1
    kind, reason = Publication.Kind.FIRST, ""
    if earlier:
        reopening = _last_reopening(loaded)
        kind = (reopening.new.get("reopened_for") if reopening else "") or Publication.Kind.UPDATE
        reason = reopening.note if reopening else ""
    approved_at = verdict.reviewed_at or timezone.now()
    document = snapshot_document(
        loaded, number=number, kind=kind, reason=reason, approved_at=approved_at, earlier=earlier
    )
    return Publication.objects.create(
        case=case,
        number=number,
        kind=kind,
        reason=reason,
        verdict=verdict,
        approved_by=by,
        approved_at=approved_at,
        document=document,
    )


def check_saw_every_file(case: Case, verdict: Verdict) -> None:
    """No verdict is approved over a file added after it was proposed."""
    late = list(
        case.case_media.filter(added_at__gt=verdict.proposed_at).values_list("media_item__original_name", flat=True)
    )
    if late:
        raise workflow.ConditionNotMet(
            f"Verdict v{verdict.number} of case #{case.pk} was proposed before these files were added: "
            f"{', '.join(late)}; send it back so the reviewer weighs them"
        )


@transaction.atomic
def reopen_case(*, case: Case, by, kind: str, reason: str) -> Case:
    """An editor reopens a published case for a correction or an update; the public page keeps the
    last publication until a new verdict is approved by another editor."""
    check_role(by, {EDITOR}, "reopen published cases")
    if kind not in REOPEN_KINDS:
        raise WorkflowError(f"{kind!r} is not a way to reopen a case; choose a correction or an update")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(
            f"Say why the case is reopened for {REOPEN_KINDS[kind]}: the reason is published with the new version"
        )
    current = Case.objects.select_for_update().get(pk=case.pk)
    workflow.check_transition(case=current, to=Stage.IN_REVIEW, user=by, note=reason, via=workflow.REOPEN)
    return services.move_case(
        case=current, to=Stage.IN_REVIEW, by=by, note=reason, event_data={"reopened_for": str(kind)}
    )


def file_added(*, case: Case, media_item: MediaItem) -> Case:
    """A file joined `case`: refused if the case is published (an approval may have won the race
    since intake looked), and a verdict awaiting approval goes back to review, as the system.

    Call inside the transaction that links the file. Returns the case as it is now.
    """
    current = Case.objects.select_for_update().get(pk=case.pk)
    frozen.check_editable(current, "add files")
    if current.stage != Stage.AWAITING_APPROVAL:
        return current
    verdict = current.verdicts.filter(status=Verdict.Status.PROPOSED).order_by("-number").first()
    note = f"A file was added after this verdict was proposed: {media_item.original_name or media_item.sha256}"
    workflow.check_transition(case=current, to=Stage.IN_REVIEW, user=None, via="send the verdict back")
    event_data = {"verdict": verdict.number} if verdict else {}
    current = services.move_case(case=current, to=Stage.IN_REVIEW, by=None, note=note, event_data=event_data)
    if verdict is not None:
        verdict.status = Verdict.Status.SENT_BACK
        verdict.reviewed_by, verdict.reviewed_at, verdict.review_note = None, timezone.now(), note
        verdict.save()
        services.record_event(
            case=current, kind=CaseEvent.Kind.VERDICT_SENT_BACK, by=None, new={"version": verdict.number}, note=note
        )
    return current
