"""The stage rules, per role: who may make each move, what must hold, and what gets recorded."""

import pytest

from tests.factories import add_media, make_case, make_user
from verify import services, workflow
from verify.models import Case, CaseEvent, ChecklistItem, Verdict
from verify.workflow import ConditionNotMet, NotPermitted, Stage, WorkflowError


def stage_events(case):
    return CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STAGE_CHANGED)


def answer_all(case, by):
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=by, status=ChecklistItem.Status.CONFIRMED, notes="checked")


def in_review_with(reviewer, desk):
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    return services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)


def propose(case, reviewer):
    return services.propose_verdict(
        case=case, by=reviewer, rating="misleading", confidence="high", summary="Old footage.", rationale="Because."
    )


def test_it_lets_desk_staff_triage_a_new_case_and_records_it(desk):
    case = make_case(by=desk)
    case = services.transition_case(case=case, to="triage", by=desk)
    assert case.stage == Stage.TRIAGE
    event = stage_events(case).get()
    assert (event.old, event.new, event.actor) == ({"stage": "new"}, {"stage": "triage"}, desk)


def test_it_refuses_a_reviewer_triaging_a_case(desk, reviewer):
    case = make_case(by=desk)
    with pytest.raises(NotPermitted, match="Only desk or editor staff may move a case from New to Triage"):
        services.transition_case(case=case, to="triage", by=reviewer)
    case.refresh_from_db()
    assert case.stage == Stage.NEW
    assert not stage_events(case).exists()


def test_it_names_an_unknown_stage(case, desk):
    with pytest.raises(WorkflowError, match="Unknown stage 'verified'; stages are: new, triage"):
        services.transition_case(case=case, to="verified", by=desk)


def test_it_says_where_a_case_can_go_when_a_move_does_not_exist(desk):
    case = make_case(by=desk)
    with pytest.raises(WorkflowError, match="cannot move from New to Published; from New it can go to: Triage"):
        services.transition_case(case=case, to="published", by=desk)


def test_it_refuses_collecting_without_media(case, desk):
    with pytest.raises(ConditionNotMet, match="has no media"):
        services.transition_case(case=case, to="collecting", by=desk)
    add_media(case)
    assert services.transition_case(case=case, to="collecting", by=desk).stage == Stage.COLLECTING


def test_it_refuses_review_without_a_lead_reviewer(case, desk, reviewer):
    with pytest.raises(ConditionNotMet, match="no lead reviewer"):
        services.transition_case(case=case, to="in_review", by=desk)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    assert services.transition_case(case=case, to="in_review", by=desk).stage == Stage.IN_REVIEW


def test_it_lets_the_system_finish_collecting_only_when_extractions_have_outcomes(case, desk):
    item = add_media(case)
    case = services.transition_case(case=case, to="collecting", by=desk)
    extraction = item.extractions.create(extractor="exif", status="pending")
    with pytest.raises(ConditionNotMet, match="1 extraction"):
        services.transition_case(case=case, to="in_review", by=None)
    extraction.status = "ok"
    extraction.save()
    assert services.transition_case(case=case, to="in_review", by=None).stage == Stage.IN_REVIEW


def test_it_needs_a_reason_to_hold_and_resumes_where_the_case_left(case, desk):
    with pytest.raises(ConditionNotMet, match="give a reason"):
        services.transition_case(case=case, to="on_hold", by=desk)
    case = services.transition_case(case=case, to="on_hold", by=desk, note="waiting for the source")
    assert case.stage_before_hold == Stage.TRIAGE
    with pytest.raises(ConditionNotMet, match="resumes there"):
        services.transition_case(case=case, to="in_review", by=desk)
    case = services.transition_case(case=case, to="triage", by=desk)
    assert (case.stage, case.stage_before_hold) == (Stage.TRIAGE, "")


def test_it_needs_a_reason_to_dismiss(case, desk):
    with pytest.raises(ConditionNotMet, match="give a reason"):
        services.transition_case(case=case, to="dismissed", by=desk, note="  ")
    case = services.transition_case(case=case, to="dismissed", by=desk, note="not a claim")
    assert stage_events(case).last().note == "not a claim"


def test_it_sends_verdict_moves_to_their_own_service(desk, reviewer):
    case = in_review_with(reviewer, desk)
    with pytest.raises(WorkflowError, match="propose a verdict instead"):
        services.transition_case(case=case, to="awaiting_approval", by=reviewer)


def test_it_lets_only_an_assigned_reviewer_propose(desk, reviewer, other_reviewer):
    case = in_review_with(reviewer, desk)
    answer_all(case, reviewer)
    with pytest.raises(NotPermitted, match="rina is not assigned to case"):
        propose(case, other_reviewer)
    with pytest.raises(NotPermitted, match="Only reviewer staff may propose"):
        propose(case, desk)
    verdict = propose(case, reviewer)
    case.refresh_from_db()
    assert (case.stage, verdict.number, verdict.status) == (Stage.AWAITING_APPROVAL, 1, Verdict.Status.PROPOSED)


def test_it_refuses_a_proposal_while_required_questions_are_open(desk, reviewer):
    case = in_review_with(reviewer, desk)
    with pytest.raises(ConditionNotMet, match="Provenance: is this the original"):
        propose(case, reviewer)
    assert not case.verdicts.exists()


def test_it_refuses_an_editor_approving_a_verdict_they_wrote(desk, other_editor):
    writer = make_user("reviewer", "editor", username="both")
    case = in_review_with(writer, desk)
    answer_all(case, writer)
    propose(case, writer)
    case.refresh_from_db()
    with pytest.raises(NotPermitted, match="both wrote verdict v1"):
        services.approve_verdict(case=case, by=writer)
    case.refresh_from_db()
    assert case.stage == Stage.AWAITING_APPROVAL
    services.approve_verdict(case=case, by=other_editor)
    case.refresh_from_db()
    assert case.stage == Stage.PUBLISHED
    assert case.verdicts.get().reviewed_by == other_editor


def test_it_refuses_a_reviewer_approving(desk, reviewer, other_reviewer):
    case = in_review_with(reviewer, desk)
    answer_all(case, reviewer)
    propose(case, reviewer)
    case.refresh_from_db()
    with pytest.raises(NotPermitted, match="Only editor staff may approve"):
        services.approve_verdict(case=case, by=other_reviewer)


def test_it_sends_a_verdict_back_with_a_reason_and_keeps_each_version(desk, reviewer, editor):
    case = in_review_with(reviewer, desk)
    answer_all(case, reviewer)
    propose(case, reviewer)
    case.refresh_from_db()
    with pytest.raises(WorkflowError, match="Say why"):
        services.send_back_verdict(case=case, by=editor, reason="")
    services.send_back_verdict(case=case, by=editor, reason="Find the earliest upload")
    case.refresh_from_db()
    assert case.stage == Stage.IN_REVIEW
    second = propose(case, reviewer)
    assert second.number == 2
    assert list(case.verdicts.values_list("number", "status")) == [(2, "proposed"), (1, "sent_back")]


def test_it_marks_a_duplicate_pointing_at_the_surviving_case(desk, case):
    survivor = make_case(by=desk, stage="triage")
    case = services.mark_duplicate(case=case, of=survivor, by=desk)
    assert (case.stage, case.duplicate_of) == (Stage.DUPLICATE, survivor)
    assert stage_events(case).last().new == {"stage": "duplicate", "duplicate_of": survivor.pk}


def test_it_refuses_a_case_as_duplicate_of_itself_or_of_a_duplicate(desk, case):
    with pytest.raises(WorkflowError, match="cannot be a duplicate of itself"):
        services.mark_duplicate(case=case, of=case, by=desk)
    first = make_case(by=desk, stage="triage")
    second = services.mark_duplicate(case=make_case(by=desk, stage="triage"), of=first, by=desk)
    with pytest.raises(WorkflowError, match="is itself a duplicate"):
        services.mark_duplicate(case=case, of=second, by=desk)


def test_it_refuses_a_stale_case_instead_of_overwriting(desk, case):
    stale = Case.objects.get(pk=case.pk)
    services.transition_case(case=case, to="on_hold", by=desk, note="wait")
    with pytest.raises(workflow.StaleCase, match="it is now in On hold, you saw Triage"):
        services.transition_case(case=stale, to="dismissed", by=desk, note="spam")
    assert Case.objects.get(pk=case.pk).stage == Stage.ON_HOLD


def test_it_records_old_and_new_values_when_details_change(desk, case):
    services.update_case(case=case, by=desk, changes={"title": "New title", "tags": ["Kursk", "video"]})
    event = CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.UPDATED).get()
    assert event.old["title"] != "New title"
    assert event.new == {"title": "New title", "tags": ["kursk", "video"]}


def test_it_gives_every_new_case_the_template_checklist(case):
    assert list(case.checklist.values_list("key", flat=True)) == [
        "provenance",
        "source",
        "date",
        "location",
        "motivation",
    ]


def test_it_keeps_events_append_only(case):
    event = case.events.first()
    event.note = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
