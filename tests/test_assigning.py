"""Assigning reviewers: bad input on the case's Reviewers page and in the services is named, and changes nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import make_case, make_user
from verify import services
from verify.workflow import NotPermitted, WorkflowError


def assign_url(case):
    return reverse("admin:verify_case_assign", args=[case.pk])


def test_it_names_the_user_and_the_missing_role_on_the_reviewers_page(client, desk, editor):
    case = make_case(by=desk, stage="triage")
    client.force_login(desk)
    response = client.post(assign_url(case), {"reviewer": editor.pk, "role": "lead"})
    assert response.context["form"].errors["reviewer"] == [
        "eli is not a reviewer; only people with the reviewer role can be assigned to cases"
    ]
    assert "eli is not a reviewer" in response.content.decode()
    assert not case.assignments.exists()


def test_it_names_an_unknown_role_on_the_reviewers_page(client, desk, reviewer):
    case = make_case(by=desk, stage="triage")
    client.force_login(desk)
    response = client.post(assign_url(case), {"reviewer": reviewer.pk, "role": "boss"})
    assert response.context["form"].errors["role"] == ["'boss' is not a reviewer role; choose one of: lead, second"]
    assert not case.assignments.exists()


def test_it_refuses_to_unassign_a_made_up_role(desk, reviewer, case):
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    events = case.events.count()
    with pytest.raises(WorkflowError, match="'boss' is not a reviewer role; the roles are: lead, second"):
        services.unassign_reviewer(case=case, role="boss", by=desk)
    assert case.assignments.get().user == reviewer
    assert case.events.count() == events


def test_it_reports_a_made_up_role_to_unassign_on_the_reviewers_page(client, desk, reviewer, case):
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    client.force_login(desk)
    response = client.post(assign_url(case), {"unassign": "boss"}, follow=True)
    assert response.status_code == 200
    assert "'boss' is not a reviewer role; the roles are: lead, second" in [
        str(m) for m in response.context["messages"]
    ]
    assert case.assignments.get().user == reviewer


# Second reviewers are chosen by the desk or an editor


def test_it_refuses_a_reviewer_making_themself_second_on_a_case_someone_else_leads(
    desk, reviewer, other_reviewer, case
):
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    events = case.events.count()
    with pytest.raises(
        NotPermitted, match=r"Only the desk or an editor can add a second reviewer to a case rafa leads \(case #\d+\)"
    ):
        services.assign_reviewer(case=case, user=other_reviewer, by=other_reviewer, role="second")
    assert list(case.assignments.values_list("user__username", "role")) == [("rafa", "lead")]
    assert case.events.count() == events


def test_it_refuses_a_reviewer_making_themself_second_on_an_unassigned_case(reviewer, case):
    with pytest.raises(
        NotPermitted, match="Only the desk or an editor can add a second reviewer to case #.*can take it as lead"
    ):
        services.assign_reviewer(case=case, user=reviewer, by=reviewer, role="second")
    assert not case.assignments.exists()


@pytest.mark.parametrize("assigner", ["desk", "editor"])
def test_it_lets_the_desk_or_an_editor_add_a_second_reviewer(request, assigner, desk, reviewer, other_reviewer, case):
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.assign_reviewer(case=case, user=other_reviewer, by=request.getfixturevalue(assigner), role="second")
    assert dict(case.assignments.values_list("role", "user__username")) == {"lead": "rafa", "second": "rina"}


def test_it_lets_an_editor_who_also_reviews_join_a_led_case_as_second(desk, reviewer, case):
    editor_reviewer = make_user("editor", "reviewer", username="erin")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.assign_reviewer(case=case, user=editor_reviewer, by=editor_reviewer, role="second")
    assert dict(case.assignments.values_list("role", "user__username")) == {"lead": "rafa", "second": "erin"}


def test_it_still_lets_a_reviewer_take_an_unassigned_case_as_lead(desk, reviewer, case):
    services.assign_reviewer(case=case, user=reviewer, by=reviewer)
    assert list(case.assignments.values_list("user__username", "role")) == [("rafa", "lead")]
    assert services.take_next_case(by=reviewer) is None
    waiting = make_case(by=desk, stage="triage")
    assert services.take_next_case(by=reviewer) == waiting


def test_it_refuses_self_made_seconds_on_the_reviewers_page_too(client, desk, reviewer, other_reviewer, case):
    # The page needs the assign permission, which reviewers lack; a reviewer given it still meets the rule.
    other_reviewer.user_permissions.add(Permission.objects.get(codename="assign_case"))
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    client.force_login(other_reviewer)
    response = client.post(assign_url(case), {"reviewer": other_reviewer.pk, "role": "second"}, follow=True)
    assert response.status_code == 200
    assert any(
        "Only the desk or an editor can add a second reviewer to a case rafa leads" in str(m)
        for m in response.context["messages"]
    )
    assert list(case.assignments.values_list("user__username", flat=True)) == ["rafa"]
