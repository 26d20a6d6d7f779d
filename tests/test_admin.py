"""The desk in the admin: list cost, filters, search, actions through services, the case page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import add_media, make_case
from verify import services
from verify.models import Case, CaseEvent, Sighting

LIST_URL = reverse("admin:verify_case_changelist")


def populate(count, desk, reviewer):
    for number in range(count):
        case = make_case(by=desk, stage="triage", tags=["kursk", f"tag-{number}"], is_graphic=number % 2 == 0)
        services.assign_reviewer(case=case, user=reviewer, by=desk)
        services.add_sighting(case=case, by=desk, platform="telegram", account=f"channel-{number}")
        add_media(case)
        add_media(case)


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL)
    assert response.status_code == 200
    return len(queries)


@pytest.fixture
def desk_client(client, desk):
    client.force_login(desk)
    return client


def test_it_lists_cases_in_a_fixed_number_of_queries(desk_client, desk, reviewer):
    populate(3, desk, reviewer)
    few = list_queries(desk_client)
    populate(27, desk, reviewer)
    many = list_queries(desk_client)
    assert few == many
    # 14 with the header's count of unread notices.
    assert many <= 14, many


def test_it_shows_badges_assignees_media_count_and_deadline(desk_client, desk, reviewer):
    populate(1, desk, reviewer)
    html = desk_client.get(LIST_URL).content.decode()
    assert 'class="vd-badge vd-stage-triage"' in html
    assert 'class="vd-badge vd-priority-normal"' in html
    assert "rafa <small>(lead)</small>" in html
    assert '<td class="field-media_count">2</td>' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stage__exact=new", {"fresh"}),
        ("assignee=none", {"fresh"}),
        ("platform=telegram", {"assigned"}),
        ("sensitivity=graphic", {"assigned"}),
        ("sensitivity=none", {"fresh"}),
        ("priority__exact=3", {"fresh"}),
        ("q=channel-x", {"assigned"}),
        ("q=Pyongyang", {"fresh"}),
    ],
)
def test_it_filters_and_searches_the_list(desk_client, desk, reviewer, query, expected):
    assigned = make_case(by=desk, stage="triage", title="assigned", is_graphic=True)
    services.assign_reviewer(case=assigned, user=reviewer, by=desk)
    services.add_sighting(case=assigned, by=desk, platform="telegram", account="channel-x")
    make_case(by=desk, title="fresh", claim="Pyongyang sent troops", priority=3)
    response = desk_client.get(f"{LIST_URL}?{query}")
    assert {case.title for case in response.context["cl"].result_list} == expected


def test_it_filters_by_tag_and_assignee(desk_client, desk, reviewer):
    tagged = make_case(by=desk, stage="triage", tags=["kursk"])
    make_case(by=desk, tags=["other"])
    services.assign_reviewer(case=tagged, user=reviewer, by=desk)
    tag_id = tagged.tags.get().pk
    for query in (f"tags__id__exact={tag_id}", f"assignee={reviewer.pk}"):
        response = desk_client.get(f"{LIST_URL}?{query}")
        assert [c.pk for c in response.context["cl"].result_list] == [tagged.pk]


def act(client, action, cases, **fields):
    data = {"action": action, "_selected_action": [c.pk for c in cases], **fields}
    return client.post(LIST_URL, data, follow=True)


def test_it_moves_cases_to_a_stage_and_reports_refusals_per_case(desk_client, desk):
    new = make_case(by=desk)
    triaged = make_case(by=desk, stage="triage")
    response = act(desk_client, "move_to_stage", [new, triaged], to_stage="triage")
    text = [str(m) for m in response.context["messages"]]
    assert "Moved to Triage: 1 case(s) done." in text
    assert f"Case #{triaged.pk}: The case is already in Triage" in text
    assert Case.objects.get(pk=new.pk).stage == "triage"


def test_it_asks_for_a_stage_before_moving(desk_client, desk):
    case = make_case(by=desk)
    response = act(desk_client, "move_to_stage", [case], to_stage="")
    assert "Choose a stage" in str(list(response.context["messages"])[0])
    assert Case.objects.get(pk=case.pk).stage == "new"


def test_it_assigns_the_chosen_reviewer_and_refuses_a_non_reviewer(desk_client, desk, reviewer, editor):
    case = make_case(by=desk, stage="triage")
    act(desk_client, "assign_lead", [case], reviewer=reviewer.pk)
    assert case.assignments.get().user == reviewer
    with pytest.raises(services.WorkflowError, match="eli is not a reviewer"):
        services.assign_reviewer(case=case, user=editor, by=desk, role="second")
    assert CaseEvent.objects.filter(case=case, kind="assigned").count() == 1


def test_it_lets_a_reviewer_take_a_case_for_themselves_but_not_join_one_someone_else_leads(
    client, desk, reviewer, other_reviewer
):
    case = make_case(by=desk, stage="triage")
    client.force_login(reviewer)
    act(client, "assign_to_me", [case])
    client.force_login(other_reviewer)
    response = act(client, "assign_to_me", [case])
    assert (
        f"Case #{case.pk}: Only the desk or an editor can add a second reviewer to a case rafa leads (case #{case.pk})"
    ) in [str(m) for m in response.context["messages"]]
    assert list(case.assignments.values_list("user__username", "role")) == [("rafa", "lead")]


def test_it_refuses_a_reviewer_assigning_someone_else(desk, reviewer, other_reviewer):
    case = make_case(by=desk, stage="triage")
    with pytest.raises(services.WorkflowError, match="may assign other people"):
        services.assign_reviewer(case=case, user=other_reviewer, by=reviewer)


def test_it_marks_duplicates_of_the_case_given(desk_client, desk):
    survivor, copy = make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")
    act(desk_client, "mark_duplicate", [copy], duplicate_of=survivor.pk)
    copy.refresh_from_db()
    assert (copy.stage, copy.duplicate_of_id) == ("duplicate", survivor.pk)
    response = act(desk_client, "mark_duplicate", [survivor], duplicate_of=99999)
    assert "No case #99999 exists." in [str(m) for m in response.context["messages"]]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def unchanged(case) -> bool:
    fresh = Case.objects.get(pk=case.pk)
    return (fresh.stage, fresh.duplicate_of_id, fresh.assignments.count(), fresh.events.count()) == (
        case.stage,
        case.duplicate_of_id,
        case.assignments.count(),
        case.events.count(),
    )


def test_it_names_an_unknown_stage_instead_of_no_action_selected(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    response = act(desk_client, "move_to_stage", [case], to_stage="xyz")
    assert messages_of(response) == [
        "Stage: 'xyz' is not a stage; choose one of: new, triage, collecting, in_review, awaiting_approval, "
        "published, on_hold, duplicate, dismissed"
    ]
    assert unchanged(case)


def test_it_names_an_assignee_without_the_reviewer_role(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    response = act(desk_client, "assign_lead", [case], reviewer=desk.pk)
    assert messages_of(response) == [
        "Reviewer: dana is not a reviewer; only people with the reviewer role can be assigned to cases"
    ]
    assert unchanged(case)


def test_it_names_a_reason_over_its_length_limit(desk_client, desk):
    case = make_case(by=desk, stage="triage")
    response = act(desk_client, "move_to_stage", [case], to_stage="dismissed", note="x" * 612)
    assert messages_of(response) == ["Reason: 612 characters is too long; keep it to 500"]
    assert unchanged(case)


def test_it_names_a_duplicate_of_that_is_not_a_case_number(desk_client, desk):
    survivor, copy = make_case(by=desk, stage="triage"), make_case(by=desk, stage="triage")
    response = act(desk_client, "mark_duplicate", [copy], duplicate_of="abc")
    assert messages_of(response) == ["Duplicate of case #: 'abc' is not a case number"]
    assert unchanged(copy)
    assert unchanged(survivor)


def test_it_runs_an_action_whatever_is_in_the_inputs_it_does_not_read(client, desk, reviewer):
    case = make_case(by=desk, stage="triage")
    client.force_login(reviewer)
    act(client, "assign_to_me", [case], to_stage="xyz", duplicate_of="abc")
    assert case.assignments.get().user == reviewer


def test_it_finds_a_case_by_a_sighting_url(desk_client, desk):
    seen = make_case(by=desk, stage="triage", title="seen")
    services.add_sighting(case=seen, by=desk, platform="telegram", url="https://t.me/kursk_frontline/4411")
    make_case(by=desk, title="other")
    response = desk_client.get(LIST_URL, {"q": "t.me/kursk_frontline/4411"})
    assert [c.title for c in response.context["cl"].result_list] == ["seen"]


def test_it_opens_a_case_from_the_add_form_through_the_service(desk_client, desk):
    response = desk_client.post(
        reverse("admin:verify_case_add"),
        {
            "title": "Footage of troops in Kursk",
            "claim": "Shows North Korean troops",
            "priority": 2,
            "claimed_latitude": "51.73",
            "claimed_longitude": "36.19",
            **inline_management(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    case = Case.objects.get(title="Footage of troops in Kursk")
    assert case.events.get().kind == "opened"
    assert case.checklist.count() == 5


def test_it_rejects_an_impossible_claimed_latitude(desk_client):
    response = desk_client.post(
        reverse("admin:verify_case_add"),
        {"title": "x", "claim": "y", "priority": 1, "claimed_latitude": "123", **inline_management()},
    )
    assert response.status_code == 200
    assert "less than or equal to 90" in str(response.context["adminform"].form.errors)
    assert not Case.objects.exists()


def test_it_records_edits_and_new_sightings_from_the_case_page(desk_client, desk):
    case = make_case(by=desk, stage="triage", title="Old title")
    data = {
        "title": "New title",
        "claim": case.claim,
        "priority": case.priority,
        **inline_management(sightings=1),
        "sightings-0-role": "appearance",
        "sightings-0-platform": "x",
        "sightings-0-account": "@someone",
        "sightings-0-url": "https://x.example/post/1",
    }
    response = desk_client.post(reverse("admin:verify_case_change", args=[case.pk]), data)
    assert response.status_code == 302
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds[-2:] == ["updated", "sighting_added"]
    assert Sighting.objects.get(case=case).account == "@someone"


def test_it_shows_the_case_page_with_timeline_and_checklist(desk_client, case):
    html = desk_client.get(reverse("admin:verify_case_change", args=[case.pk])).content.decode()
    assert "History" in html
    assert "Stage changed" in html
    assert "Provenance: is this the original" in html
    assert "Can move to" in html


def test_it_keeps_case_events_read_only_in_the_admin(desk_client, case):
    event = case.events.first()
    url = reverse("admin:verify_caseevent_change", args=[event.pk])
    desk_client.post(url, {"note": "rewritten"})
    event.refresh_from_db()
    assert event.note != "rewritten"
    assert desk_client.get(reverse("admin:verify_caseevent_add")).status_code == 403
    assert desk_client.post(reverse("admin:verify_case_delete", args=[case.pk])).status_code == 403


def inline_management(sightings=0):
    data = {}
    for prefix in ("sightings", "case_media", "assignments", "checklist", "verdicts", "events"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    data["sightings-TOTAL_FORMS"] = sightings
    return data
