"""Assigning reviewers: bad input on the case's Reviewers page and in the services is named, and changes nothing."""

import pytest
from django.urls import reverse

from tests.factories import make_case
from verify import services
from verify.workflow import WorkflowError


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
