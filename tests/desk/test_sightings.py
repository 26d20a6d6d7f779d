"""Reviewers add the sightings they find to their own cases, with the checks the desk's inline makes."""

import pytest
from django.urls import reverse

from tests.factories import add_media, make_case
from tests.test_admin import inline_management
from verify import services
from verify.capture import jobs
from verify.models import CaseEvent, Sighting
from verify.workflow import NotPermitted, Stage


def add_url(case):
    return reverse("admin:verify_case_add_sighting", args=[case.pk])


@pytest.fixture
def assigned_case(desk, reviewer):
    case = make_case(by=desk, stage="triage", title="Bridge at Sudzha")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    return services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


SIGHTING = {
    "role": "appearance",
    "platform": "telegram",
    "url": "t.me/kursk_frontline/4411",
    "account": "kursk_frontline",
    "caption": "Мост в Судже",
}


def test_it_lets_an_assigned_reviewer_add_a_sighting_recorded_as_an_event(reviewer_client, reviewer, assigned_case):
    response = reviewer_client.post(add_url(assigned_case), SIGHTING)
    assert response.status_code == 302
    sighting = Sighting.objects.get(case=assigned_case)
    assert (sighting.url, sighting.added_by) == ("https://t.me/kursk_frontline/4411", reviewer)
    event = assigned_case.events.get(kind=CaseEvent.Kind.SIGHTING_ADDED)
    assert event.actor == reviewer
    assert event.new["account"] == "kursk_frontline"


def test_it_refuses_a_reviewer_the_page_of_a_case_not_theirs(client, other_reviewer, assigned_case):
    client.force_login(other_reviewer)
    assert client.get(add_url(assigned_case)).status_code == 403
    assert client.post(add_url(assigned_case), SIGHTING).status_code == 403
    assert not Sighting.objects.filter(case=assigned_case).exists()


def test_it_refuses_a_reviewer_a_sighting_on_a_case_not_theirs_in_the_service(other_reviewer, assigned_case):
    with pytest.raises(NotPermitted, match="not assigned to case"):
        services.add_sighting(case=assigned_case, by=other_reviewer, platform="x", account="someone")


def test_it_offers_the_page_from_the_case_page_to_the_assigned_reviewer_only(
    client, reviewer, other_reviewer, assigned_case
):
    case_page = reverse("admin:verify_case_change", args=[assigned_case.pk])
    client.force_login(reviewer)
    assert add_url(assigned_case) in client.get(case_page).content.decode()
    client.force_login(other_reviewer)
    assert add_url(assigned_case) not in client.get(case_page).content.decode()


def test_it_offers_only_the_cases_own_files(reviewer_client, desk, assigned_case):
    mine = add_media(assigned_case, name="bridge.jpg")
    add_media(make_case(by=desk), name="elsewhere.jpg")
    field = reviewer_client.get(add_url(assigned_case)).context["form"].fields["media_item"]
    assert list(field.queryset) == [mine]


def test_it_refuses_an_empty_sighting_on_the_reviewers_page(reviewer_client, assigned_case):
    response = reviewer_client.post(add_url(assigned_case), {"role": "appearance", "platform": "x"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "Give the sighting's link, the account that posted it, or its caption."
    ]


def test_it_refuses_an_empty_sighting_in_the_desks_inline_with_the_same_words(client, desk, assigned_case):
    client.force_login(desk)
    data = {
        "title": assigned_case.title,
        "claim": assigned_case.claim,
        "priority": assigned_case.priority,
        **inline_management(sightings=1),
        "sightings-0-role": "appearance",
        "sightings-0-platform": "x",
        "sightings-0-reported_by": "a reader",
    }
    response = client.post(reverse("admin:verify_case_change", args=[assigned_case.pk]), data)
    assert response.status_code == 200
    assert "Give the sighting&#x27;s link, the account that posted it, or its caption." in response.content.decode()
    assert not Sighting.objects.filter(case=assigned_case).exists()


def test_it_refuses_a_file_from_another_case_in_the_desks_inline(client, desk, assigned_case):
    elsewhere = add_media(make_case(by=desk), name="elsewhere.jpg")
    client.force_login(desk)
    data = {
        "title": assigned_case.title,
        "claim": assigned_case.claim,
        "priority": assigned_case.priority,
        **inline_management(sightings=1),
        "sightings-0-role": "appearance",
        "sightings-0-platform": "x",
        "sightings-0-account": "someone",
        "sightings-0-media_item": elsewhere.pk,
    }
    response = client.post(reverse("admin:verify_case_change", args=[assigned_case.pk]), data)
    assert f"is not one of case #{assigned_case.pk}&#x27;s files" in response.content.decode()
    assert not Sighting.objects.filter(case=assigned_case).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**SIGHTING, "url": "not a link at all"}, "url", "Enter a valid URL."),
        ({**SIGHTING, "url": "", "capture_post": "on"}, "capture_post", "Give the post's URL to capture it."),
        ({**SIGHTING, "platform": "myspace"}, "platform", "Select a valid choice."),
    ],
)
def test_it_checks_each_field_as_the_desk_does(reviewer_client, assigned_case, data, field, message):
    response = reviewer_client.post(add_url(assigned_case), data)
    assert any(message in error for error in response.context["form"].errors[field])


def test_it_refuses_a_capture_to_a_reviewer_of_another_case_before_it_is_queued(other_reviewer, assigned_case):
    with pytest.raises(NotPermitted, match="not assigned to case"):
        jobs.queue_capture(case=assigned_case, url="https://t.me/kursk_frontline/4411", by=other_reviewer)
    assert not assigned_case.captures.exists()
