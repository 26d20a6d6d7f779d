"""Take next stops giving a reviewer cases once they hold TAKE_NEXT_CAP open ones."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import make_case
from tests.test_admin import act
from verify import services
from verify import settings as desk_settings
from verify.workflow import ConditionNotMet


@pytest.fixture
def waiting(desk):
    return [make_case(by=desk, stage="triage", title=f"Waiting {n}") for n in range(4)]


def test_it_gives_a_reviewer_cases_up_to_the_cap_and_then_says_why_not(settings, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 2
    taken = [services.take_next_case(by=reviewer), services.take_next_case(by=reviewer)]

    with pytest.raises(ConditionNotMet) as refused:
        services.take_next_case(by=reviewer)

    assert [case.pk for case in taken] == [waiting[0].pk, waiting[1].pk]
    assert str(refused.value) == (
        "You have 2 open cases; take next gives a reviewer at most 2. "
        "Finish or hand back one first, or ask the desk to assign you another."
    )
    assert waiting[2].assignments.count() == 0


def test_it_counts_cases_the_desk_assigned_but_not_closed_ones(settings, desk, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 2
    services.assign_reviewer(case=waiting[3], user=reviewer, by=desk)
    dismissed = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=dismissed, user=reviewer, by=desk)
    services.transition_case(case=dismissed, to="dismissed", by=desk, note="not a claim")

    assert services.take_next_case(by=reviewer) == waiting[0]
    with pytest.raises(ConditionNotMet):
        services.take_next_case(by=reviewer)


def test_it_lets_the_desk_assign_past_the_cap(settings, desk, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 1
    for case in waiting:
        services.assign_reviewer(case=case, user=reviewer, by=desk)
    assert all(case.assignments.get().user == reviewer for case in waiting)


def test_it_has_no_cap_at_zero(settings, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 0
    assert [services.take_next_case(by=reviewer) for _ in waiting] == waiting


def test_it_caps_at_five_unless_told_otherwise():
    assert desk_settings.TAKE_NEXT_CAP == 5


def test_it_shows_the_cap_on_the_queue_page(client, settings, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 1
    services.take_next_case(by=reviewer)
    client.force_login(reviewer)

    response = client.post(reverse("admin:verify_case_my_queue"))

    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [
        "You have 1 open case; take next gives a reviewer at most 1. "
        "Finish or hand back one first, or ask the desk to assign you another."
    ]


def test_it_holds_assign_to_me_to_the_same_cap_and_says_why(client, settings, reviewer, waiting):
    settings.TAKE_NEXT_CAP = 2
    client.force_login(reviewer)

    response = act(client, "assign_to_me", waiting[:3])

    held = {case.pk for case in waiting if case.assignments.filter(user=reviewer).exists()}
    assert held == {waiting[0].pk, waiting[1].pk}
    assert (
        f"Case #{waiting[2].pk}: You have 2 open cases; a reviewer takes at most 2. "
        "Finish or hand back one first, or ask the desk to assign you another."
    ) in [str(m) for m in response.context["messages"]]


def test_it_lets_desk_staff_who_also_review_assign_themselves_past_the_cap(settings, desk, waiting):
    settings.TAKE_NEXT_CAP = 1
    desk.groups.add(Group.objects.get(name="reviewer"))
    desk = type(desk).objects.get(pk=desk.pk)  # roles are read once per user object
    for case in waiting:
        services.take_case(case=case, by=desk)
    assert all(case.assignments.get().user == desk for case in waiting)
