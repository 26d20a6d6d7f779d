"""Reviewers and editors at work: taking cases, the checklist, proposing and approving verdicts, queues."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests.factories import add_media, make_case, make_user
from verify import services
from verify.models import Case, CaseEvent, ChecklistItem, ChecklistQuestion, Flag, MediaRating, Verdict
from verify.workflow import Stage, WorkflowError


def url(name, case=None):
    return reverse(f"admin:verify_case_{name}", args=[case.pk] if case else [])


def in_review(desk, reviewer, **fields):
    case = make_case(by=desk, stage="triage", **fields)
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    return services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)


def answer_all(client, case, status="confirmed"):
    items = list(case.checklist.all())
    data = {"form-TOTAL_FORMS": len(items), "form-INITIAL_FORMS": len(items)}
    for i, item in enumerate(items):
        data |= {
            f"form-{i}-item_id": item.pk,
            f"form-{i}-status": status,
            f"form-{i}-notes": "checked",
            f"form-{i}-evidence_links": "https://example.org/a\nhttps://example.org/b",
        }
    return client.post(url("checklist", case), data, follow=True)


def test_it_gives_take_next_the_oldest_most_urgent_unassigned_case(desk, reviewer, other_reviewer):
    make_case(by=desk, stage="triage", title="normal, old")
    urgent_new = make_case(by=desk, stage="triage", title="urgent", priority=3)
    make_case(by=desk, title="still new", priority=3)
    assert services.take_next_case(by=reviewer) == urgent_new
    assert services.take_next_case(by=other_reviewer).title == "normal, old"
    assert services.take_next_case(by=other_reviewer) is None


def test_it_notifies_the_assignee_by_email(desk, reviewer, django_capture_on_commit_callbacks, mail_sent_here):
    case = make_case(by=desk, stage="triage", title="Kursk footage")
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_reviewer(case=case, user=reviewer, by=desk)
    assert [m.to for m in mail.outbox] == [[reviewer.email]]
    assert f"Case #{case.pk} assigned to you" in mail.outbox[0].subject


def test_it_records_unassigning(desk, reviewer, case):
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.unassign_reviewer(case=case, role="lead", by=desk, note="on leave")
    event = CaseEvent.objects.filter(case=case, kind="unassigned").get()
    assert (event.old, event.note) == ({"user": "rafa", "role": "lead"}, "on leave")


def test_it_shows_a_reviewer_their_queue_by_deadline_and_takes_the_next_case(client, desk, reviewer):
    soon = in_review(desk, reviewer, title="soon", deadline=timezone.now() + timedelta(hours=2))
    later = in_review(desk, reviewer, title="later", deadline=timezone.now() + timedelta(days=2))
    waiting = make_case(by=desk, stage="triage", title="waiting")
    client.force_login(reviewer)
    assert [c.pk for c in client.get(url("my_queue")).context["cases"]] == [soon.pk, later.pk]
    response = client.post(url("my_queue"), follow=True)
    assert response.redirect_chain[-1][0] == url("change", waiting)
    assert waiting.assignments.get().user == reviewer


def test_it_shows_the_desk_each_reviewers_workload(client, desk, reviewer, other_reviewer):
    in_review(desk, reviewer, deadline=timezone.now() - timedelta(hours=1))
    in_review(desk, reviewer)
    make_case(by=desk, stage="triage")
    client.force_login(desk)
    response = client.get(url("workload"))
    rows = {p.username: (p.open_cases, p.leading, p.overdue) for p in response.context["people"]}
    assert rows["rafa"] == (2, 2, 1)
    assert rows["rina"] == (0, 0, 0)
    assert response.context["unassigned"] == 1


def test_it_keeps_the_workload_from_reviewers(client, reviewer):
    client.force_login(reviewer)
    assert client.get(url("workload")).status_code == 403


def test_it_saves_checklist_answers_with_links(client, desk, reviewer):
    case = in_review(desk, reviewer)
    client.force_login(reviewer)
    answer_all(client, case)
    item = case.checklist.get(key="provenance")
    assert (item.status, item.evidence_links) == ("confirmed", ["https://example.org/a", "https://example.org/b"])
    assert CaseEvent.objects.filter(case=case, kind="checklist_answered").count() == 5


def test_it_refuses_checklist_answers_from_someone_not_on_the_case(client, desk, reviewer, other_reviewer):
    case = in_review(desk, reviewer)
    client.force_login(other_reviewer)
    response = answer_all(client, case)
    assert "may answer the checklist of a case not assigned to them" in str(list(response.context["messages"]))
    assert not case.checklist.exclude(status="open").exists()


def test_it_rejects_a_checklist_link_that_is_not_a_web_address(client, desk, reviewer):
    case = in_review(desk, reviewer)
    item = case.checklist.first()
    client.force_login(reviewer)
    data = {
        "form-TOTAL_FORMS": 1,
        "form-INITIAL_FORMS": 1,
        "form-0-item_id": item.pk,
        "form-0-status": "unknown",
        "form-0-notes": "",
        "form-0-evidence_links": "javascript:alert(1)",
    }
    response = client.post(url("checklist", case), data)
    assert "Not a web address: javascript:alert(1)" in response.content.decode()


def propose_data(**extra):
    return {
        "rating": "misleading",
        "confidence": "high",
        "media_category": "DecontextualizedContent",
        "summary": "Old footage, new caption.",
        "rationale": "Found the 2022 upload.",
        "media-TOTAL_FORMS": 0,
        "media-INITIAL_FORMS": 0,
        **extra,
    }


def test_it_refuses_a_proposal_while_required_questions_are_open(client, desk, reviewer):
    case = in_review(desk, reviewer)
    client.force_login(reviewer)
    response = client.post(url("propose_verdict", case), propose_data())
    assert "Answer the required checklist questions first" in str(list(response.context["messages"]))
    assert not Verdict.objects.exists()


def test_it_proposes_a_verdict_with_file_ratings_and_evidence(client, desk, reviewer):
    case = in_review(desk, reviewer)
    item = add_media(case, name="clip.mp4")
    sighting = services.add_sighting(case=case, by=desk, platform="telegram", account="@channel")
    client.force_login(reviewer)
    answer_all(client, case)
    data = propose_data(
        evidence_sightings=[sighting.pk],
        evidence_links="https://archive.example/2022-upload",
        **{
            "media-TOTAL_FORMS": 1,
            "media-INITIAL_FORMS": 1,
            "media-0-media_item_id": item.pk,
            "media-0-category": "DecontextualizedContent",
            "media-0-original_context": "Filmed in 2022 elsewhere",
            "media-0-original_link": "https://archive.example/2022-upload",
        },
    )
    response = client.post(url("propose_verdict", case), data, follow=True)
    assert response.redirect_chain[-1][0] == url("change", case)
    verdict = case.verdicts.get()
    assert (verdict.media_category, verdict.status) == ("DecontextualizedContent", "proposed")
    assert [e["kind"] for e in verdict.evidence] == ["sighting", "link"]
    rating = MediaRating.objects.get(verdict=verdict)
    assert (rating.media_item, rating.original_context) == (item, "Filmed in 2022 elsewhere")
    case.refresh_from_db()
    assert case.stage == Stage.AWAITING_APPROVAL


def test_it_refuses_evidence_from_another_case(desk, reviewer):
    case = in_review(desk, reviewer)
    other = services.add_sighting(case=make_case(by=desk), by=desk, platform="x", account="@else")
    with pytest.raises(WorkflowError, match="is not a sighting, reading, flag or web link of case"):
        propose_resting_on(case, reviewer, {"kind": "sighting", "id": other.pk})
    assert not case.verdicts.exists()


def propose_resting_on(case, reviewer, evidence: dict):
    """Answer every checklist question, then propose a verdict resting on `evidence` alone."""
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.UNKNOWN)
    return services.propose_verdict(
        case=case, by=reviewer, rating="false", confidence="low", summary="s", rationale="r", evidence=[evidence]
    )


def proposed(client, desk, reviewer):
    case = in_review(desk, reviewer)
    client.force_login(reviewer)
    answer_all(client, case)
    client.post(url("propose_verdict", case), propose_data())
    case.refresh_from_db()
    return case


def test_it_tells_a_reviewer_proposing_after_another_that_a_verdict_already_awaits_an_editor(
    client, desk, reviewer, other_reviewer
):
    case = in_review(desk, reviewer)
    services.assign_reviewer(case=case, user=other_reviewer, by=desk, role="second")
    client.force_login(reviewer)
    answer_all(client, case)
    client.post(url("propose_verdict", case), propose_data())
    client.force_login(other_reviewer)
    response = client.post(url("propose_verdict", case), propose_data(summary="My own take."))
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]][-1] == (
        f"Case #{case.pk} already awaits an editor's decision on verdict v1 by rafa; "
        "a new verdict can be proposed once an editor sends that one back"
    )
    assert list(case.verdicts.values_list("summary", flat=True)) == ["Old footage, new caption."]


def test_it_lets_another_editor_approve_and_publish(client, desk, reviewer, editor):
    case = proposed(client, desk, reviewer)
    client.force_login(editor)
    response = client.post(url("review_verdict", case), {"approve": "1", "note": "Solid."}, follow=True)
    assert "is published" in str(list(response.context["messages"]))
    case.refresh_from_db()
    assert case.stage == Stage.PUBLISHED
    assert case.verdicts.get().reviewed_by == editor


def test_it_sends_a_verdict_back_only_with_a_reason(client, desk, reviewer, editor):
    case = proposed(client, desk, reviewer)
    client.force_login(editor)
    response = client.post(url("review_verdict", case), {"send_back": "1", "note": ""})
    assert "Say why the verdict goes back" in str(list(response.context["messages"]))
    client.post(url("review_verdict", case), {"send_back": "1", "note": "Find the first upload"})
    case.refresh_from_db()
    assert case.stage == Stage.IN_REVIEW
    assert case.verdicts.get().review_note == "Find the first upload"


def test_it_refuses_approval_by_a_reviewer(client, desk, reviewer, other_reviewer):
    case = proposed(client, desk, reviewer)
    client.force_login(other_reviewer)
    response = client.post(url("review_verdict", case), {"approve": "1"})
    assert "Only editor staff may approve verdicts" in str(list(response.context["messages"]))
    case.refresh_from_db()
    assert case.stage == Stage.AWAITING_APPROVAL


def test_it_shows_each_role_the_buttons_its_work_calls_for(client, desk, reviewer, editor):
    case = in_review(desk, reviewer)
    client.force_login(reviewer)
    html = client.get(url("change", case)).content.decode()
    assert url("checklist", case) in html and url("propose_verdict", case) in html
    client.force_login(editor)
    assert url("propose_verdict", case) not in client.get(url("change", case)).content.decode()
    case = proposed(client, desk, make_user("reviewer"))
    client.force_login(editor)
    assert url("review_verdict", case) in client.get(url("change", case)).content.decode()


def test_it_assigns_and_unassigns_from_the_case_page(client, desk, reviewer, other_reviewer):
    case = make_case(by=desk, stage="triage")
    client.force_login(desk)
    assert url("assign", case) in client.get(url("change", case)).content.decode()
    client.post(url("assign", case), {"reviewer": reviewer.pk, "role": "lead"})
    client.post(url("assign", case), {"reviewer": other_reviewer.pk, "role": "second"})
    assert dict(case.assignments.values_list("role", "user__username")) == {"lead": "rafa", "second": "rina"}
    client.post(url("assign", case), {"unassign": "second"})
    assert list(case.assignments.values_list("user__username", flat=True)) == ["rafa"]


def test_it_refuses_assignment_from_the_case_page_without_the_permission(client, desk, reviewer):
    case = make_case(by=desk, stage="triage")
    client.force_login(reviewer)
    assert client.post(url("assign", case), {"reviewer": reviewer.pk, "role": "lead"}).status_code == 403


# Verdicts resting on flags


def flag_of(case, *, media_item=None, message="Capture time is 3 years before the claimed date", severity="high"):
    return Flag.objects.create(
        case=case, media_item=media_item, kind="capture-long-before-claim", severity=severity, message=message
    )


def test_it_proposes_a_verdict_resting_on_a_flag_of_the_case(client, desk, reviewer, editor):
    case = in_review(desk, reviewer)
    item = add_media(case, name="soldiers.jpg")
    client.force_login(reviewer)
    answer_all(client, case)
    flag = flag_of(case, media_item=item)
    form = client.get(url("propose_verdict", case)).content.decode()
    assert "High: Capture time is 3 years before the claimed date (soldiers.jpg)" in form
    response = client.post(url("propose_verdict", case), propose_data(evidence_flags=[flag.pk]), follow=True)
    assert response.redirect_chain[-1][0] == url("change", case)
    label = "High: Capture time is 3 years before the claimed date (soldiers.jpg)"
    assert case.verdicts.get().evidence == [{"kind": "flag", "id": flag.pk, "label": label}]
    client.force_login(editor)
    assert f"flag: {label}" in client.get(url("review_verdict", case)).content.decode()


def test_it_refuses_a_flag_of_another_case_as_evidence(desk, reviewer):
    case = in_review(desk, reviewer)
    other = make_case(by=desk)
    foreign = flag_of(other)
    expected = f"Flag #{foreign.pk} belongs to case #{other.pk}, not case #{case.pk}; a verdict rests only on its own"
    with pytest.raises(WorkflowError, match=expected):
        propose_resting_on(case, reviewer, {"kind": "flag", "id": foreign.pk})
    assert not case.verdicts.exists()
    assert Case.objects.get(pk=case.pk).stage == Stage.IN_REVIEW


# The verdict history on the case page


def propose_with_file(client, case, item, *, rationale, category):
    data = propose_data(
        rationale=rationale,
        **{
            "media-TOTAL_FORMS": 1,
            "media-INITIAL_FORMS": 1,
            "media-0-media_item_id": item.pk,
            "media-0-category": category,
            "media-0-original_context": "",
            "media-0-original_link": "",
        },
    )
    client.post(url("propose_verdict", case), data)


def test_it_shows_every_verdict_version_in_full_on_the_case_page(client, desk, reviewer, editor):
    case = in_review(desk, reviewer)
    item = add_media(case, name="convoy.mp4")
    client.force_login(reviewer)
    answer_all(client, case)
    propose_with_file(client, case, item, rationale="FIRST-try: <b>2019</b> upload.", category="StagedContent")
    client.force_login(editor)
    client.post(url("review_verdict", case), {"send_back": "1", "note": "Find the first upload"})
    client.force_login(reviewer)
    propose_with_file(
        client, case, item, rationale="SECOND-try: 2017 upload found.", category="DecontextualizedContent"
    )
    assert list(case.verdicts.values_list("number", "status")) == [(2, "proposed"), (1, "sent_back")]
    client.force_login(editor)
    html = client.get(url("change", case)).content.decode()
    assert "FIRST-try: &lt;b&gt;2019&lt;/b&gt; upload." in html
    assert "SECOND-try: 2017 upload found." in html
    assert "convoy.mp4: <b>Staged content</b>" in html
    assert "convoy.mp4: <b>Decontextualized content</b>" in html
    assert "Find the first upload" in html and "Sent back" in html


# The checklist as an admin edits it


def test_it_gives_a_new_case_the_checklist_as_an_admin_changed_it(client, desk, reviewer):
    admin_user = get_user_model().objects.create_superuser("admin-ck", "admin-ck@example.org", "pw-123456")
    earlier = make_case(by=desk)
    client.force_login(admin_user)
    client.post(
        reverse("admin:verify_checklistquestion_add"),
        {"key": "archive", "prompt": "Archive: is a copy saved?", "required": "", "position": 9, "active": "on"},
    )
    motivation = ChecklistQuestion.objects.get(key="motivation")
    client.post(
        reverse("admin:verify_checklistquestion_change", args=[motivation.pk]),
        {
            "key": "motivation",
            "prompt": motivation.prompt,
            "required": "",
            "position": motivation.position,
            "active": "on",
        },
    )
    case = in_review(desk, reviewer)
    assert list(case.checklist.values_list("key", "required")) == [
        ("provenance", True),
        ("source", True),
        ("date", True),
        ("location", True),
        ("motivation", False),
        ("archive", False),
    ]
    assert earlier.checklist.count() == 5
    for item in case.checklist.filter(required=True):
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.CONFIRMED)
    services.propose_verdict(case=case, by=reviewer, rating="false", confidence="low", summary="s", rationale="r")
    assert Case.objects.get(pk=case.pk).stage == Stage.AWAITING_APPROVAL
    assert set(case.checklist.filter(status="open").values_list("key", flat=True)) == {"motivation", "archive"}


# Assigning several cases at once, and taking the next one


def test_it_assigns_a_reviewer_to_several_cases_at_once_from_the_list(client, desk, reviewer):
    cases = [make_case(by=desk, stage="triage") for _ in range(3)]
    closed = make_case(by=desk, stage="dismissed")
    client.force_login(desk)
    data = {"action": "assign_lead", "_selected_action": [c.pk for c in [*cases, closed]], "reviewer": reviewer.pk}
    response = client.post(url("changelist"), data, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert "Assigned rafa as lead reviewer: 3 case(s) done." in shown
    assert f"Case #{closed.pk}: Case #{closed.pk} is Dismissed; closed cases are not assigned" in shown
    for case in cases:
        assert list(case.assignments.values_list("user__username", "role")) == [("rafa", "lead")]
    assert CaseEvent.objects.filter(kind="assigned", case__in=cases).count() == 3
    assert not closed.assignments.exists()


def test_it_gives_take_next_an_unassigned_case_in_review_when_it_is_the_oldest_most_urgent(
    desk, reviewer, other_reviewer
):
    make_case(by=desk, stage="triage", title="oldest, but normal")
    in_review(desk, other_reviewer, title="urgent, but taken", priority=3)
    waiting = make_case(by=desk, stage="triage", title="urgent, back in review", priority=3)
    add_media(waiting)
    waiting = services.transition_case(case=waiting, to=Stage.COLLECTING, by=desk)
    waiting = services.transition_case(case=waiting, to=Stage.IN_REVIEW, by=desk)
    make_case(by=desk, stage="triage", title="urgent, newer", priority=3)
    assert (waiting.stage, waiting.assignments.exists()) == (Stage.IN_REVIEW, False)
    assert services.take_next_case(by=reviewer) == waiting
    assert waiting.assignments.get().user == reviewer


# A frozen checklist


def to_stage(client, desk, reviewer, editor, stage):
    if stage == Stage.DISMISSED:
        case = in_review(desk, reviewer)
        return services.transition_case(case=case, to=Stage.DISMISSED, by=desk, note="not a claim")
    case = proposed(client, desk, reviewer)
    if stage == Stage.PUBLISHED:
        case = services.approve_verdict(case=case, by=editor).case
    return Case.objects.get(pk=case.pk)


@pytest.mark.parametrize(
    ("stage", "why"),
    [
        (Stage.AWAITING_APPROVAL, "the proposed verdict rests on these answers; an editor must send it back first"),
        (Stage.PUBLISHED, "the published verdict and its report rest on these answers"),
        (Stage.DISMISSED, "the case is dismissed; reopen it to triage first"),
    ],
)
def test_it_refuses_checklist_answers_once_a_verdict_rests_on_them_or_the_case_is_closed(
    client, desk, reviewer, editor, stage, why
):
    case = to_stage(client, desk, reviewer, editor, stage)
    assert case.stage == stage
    item = case.checklist.get(key="provenance")
    answers = CaseEvent.objects.filter(case=case, kind="checklist_answered").count()
    with pytest.raises(WorkflowError, match=f"is {stage.label}, so its checklist can no longer change: {why}"):
        services.answer_checklist_item(item=item, by=reviewer, status="refuted", notes="changed my mind")
    item.refresh_from_db()
    assert item.status != "refuted" and item.notes != "changed my mind"
    assert CaseEvent.objects.filter(case=case, kind="checklist_answered").count() == answers


def test_it_tells_the_reviewer_why_the_checklist_page_refuses_a_published_case(client, desk, reviewer, editor):
    case = to_stage(client, desk, reviewer, editor, Stage.PUBLISHED)
    client.force_login(reviewer)
    response = answer_all(client, case, status="refuted")
    assert "its checklist can no longer change" in str(list(response.context["messages"]))
    assert not case.checklist.filter(status="refuted").exists()


def test_it_offers_no_rating_ready_made_and_requires_one(client, desk, reviewer):
    case = in_review(desk, reviewer)
    client.force_login(reviewer)
    answer_all(client, case)

    page = client.get(url("propose_verdict", case)).text
    rating = page[page.index('name="rating"') : page.index("</select>", page.index('name="rating"'))]
    assert '<option value="" selected>— choose a rating —</option>' in rating
    assert rating.count("selected") == 1

    response = client.post(url("propose_verdict", case), propose_data(rating=""))
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not Verdict.objects.exists()
