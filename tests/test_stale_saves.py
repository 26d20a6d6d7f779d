"""No lost updates: two people open the same page, both save; the second save is refused and says what changed."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_case, make_user
from verify import services
from verify.models import Assignment, Case, ChecklistItem, Sighting
from verify.workflow import Stage

INLINES = ("sightings", "assignments", "checklist", "verdicts", "events")
NOT_SAVED = "after you opened this page; your changes were not saved — review them below"


@pytest.fixture
def dana(db):
    return make_user("desk", username="dana", first_name="Dana")


@pytest.fixture
def milo(db):
    return make_user("desk", username="milo", first_name="Milo")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text_of(response) -> str:
    """The page's visible text, whitespace collapsed, quotes and entities as a reader sees them."""
    html = response.content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").replace("&quot;", '"').split())


def case_form_data(response, **changes) -> dict:
    """What the case page's form posts back as opened, with `changes` typed in."""
    form = response.context["adminform"].form
    data = {
        name: form[name].value()
        for name in ("title", "claim", "priority", "claimed_place", "case_version", "seen_event")
    }
    data = {name: "" if value is None else value for name, value in data.items()}
    for prefix in INLINES:
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
    return data | changes


def sighting_rows(case, response, edits: dict[int, dict]) -> dict:
    """The sightings inline as opened (every existing row), with `edits` typed into row numbers."""
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "sightings").formset
    rows = {"sightings-TOTAL_FORMS": len(formset.forms), "sightings-INITIAL_FORMS": formset.initial_form_count()}
    for i, form in enumerate(formset.forms[: formset.initial_form_count()]):
        for name in ("id", "case", "role", "platform", "url", "account", "caption", "reported_by"):
            value = form[name].value()
            rows[f"sightings-{i}-{name}"] = "" if value is None else value
        rows |= {f"sightings-{i}-{name}": value for name, value in edits.get(i, {}).items()}
    return rows


def test_it_refuses_a_stale_save_of_the_case_form_naming_who_changed_what(dana, milo):
    case = make_case(by=dana, stage="triage", title="Convoy near Kursk")
    url = reverse("admin:verify_case_change", args=[case.pk])
    first, second = logged_in(dana), logged_in(milo)
    dana_page, milo_page = first.get(url), second.get(url)

    deadline = timezone.now() + timedelta(days=1)
    response = first.post(
        url,
        case_form_data(
            dana_page,
            claim="Dana's sharper wording of the claim",
            deadline_0=deadline.strftime("%Y-%m-%d"),
            deadline_1="18:00:00",
        ),
    )
    assert response.status_code == 302
    response = second.post(url, case_form_data(milo_page, title="Milo's new title"))

    assert response.status_code == 200
    text = text_of(response)
    at = timezone.localtime(case.events.last().at)
    assert f"Dana changed the claim and the deadline at {at:%H:%M} {NOT_SAVED}" in text
    assert 'value="Milo&#x27;s new title"' in response.content.decode()  # the input is kept
    saved = Case.objects.get(pk=case.pk)
    assert (saved.title, saved.claim) == ("Convoy near Kursk", "Dana's sharper wording of the claim")
    assert "changed successfully" not in text


def test_it_saves_once_more_from_the_refused_page_knowingly(dana, milo):
    case = make_case(by=dana, stage="triage", title="Convoy near Kursk")
    url = reverse("admin:verify_case_change", args=[case.pk])
    first, second = logged_in(dana), logged_in(milo)
    dana_page, milo_page = first.get(url), second.get(url)
    first.post(url, case_form_data(dana_page, claim="Dana's wording"))
    refused = second.post(url, case_form_data(milo_page, title="Milo's title"))

    again = second.post(url, case_form_data(refused, title="Milo's title"))

    assert again.status_code == 302
    saved = Case.objects.get(pk=case.pk)
    assert (saved.title, saved.claim) == ("Milo's title", "Dana's wording")


def test_it_refuses_a_stale_save_of_a_sighting_in_the_case_page(dana, milo):
    case = make_case(by=dana, stage="triage")
    services.add_sighting(case=case, by=dana, platform="telegram", account="@first", url="https://t.me/a/1")
    url = reverse("admin:verify_case_change", args=[case.pk])
    first, second = logged_in(dana), logged_in(milo)
    dana_page, milo_page = first.get(url), second.get(url)

    response = first.post(
        url, case_form_data(dana_page) | sighting_rows(case, dana_page, {0: {"caption": "Dana's caption"}})
    )
    assert response.status_code == 302
    response = second.post(
        url, case_form_data(milo_page) | sighting_rows(case, milo_page, {0: {"caption": "Milo's caption"}})
    )

    assert response.status_code == 200
    assert f"Dana changed a sighting at {timezone.localtime(case.events.last().at):%H:%M} {NOT_SAVED}" in text_of(
        response
    )
    assert "Milo&#x27;s caption" in response.content.decode()
    assert Sighting.objects.get(case=case).caption == "Dana's caption"


def checklist_post(case, token: dict, notes: str) -> dict:
    items = list(case.checklist.all())
    data = {"form-TOTAL_FORMS": len(items), "form-INITIAL_FORMS": len(items), **token}
    for i, item in enumerate(items):
        data |= {
            f"form-{i}-item_id": item.pk,
            f"form-{i}-status": "confirmed",
            f"form-{i}-notes": notes,
            f"form-{i}-evidence_links": "",
        }
    return data


def test_it_refuses_a_stale_save_of_the_checklist(dana, reviewer, editor):
    case = make_case(by=dana, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=dana)
    case = services.transition_case(case=Case.objects.get(pk=case.pk), to=Stage.IN_REVIEW, by=dana)
    url = reverse("admin:verify_case_checklist", args=[case.pk])
    first, second = logged_in(reviewer), logged_in(editor)
    rafa_token, eli_token = first.get(url).context["token"], second.get(url).context["token"]

    assert first.post(url, checklist_post(case, rafa_token, "Rafa's notes")).status_code == 302
    response = second.post(url, checklist_post(case, eli_token, "Eli's notes"))

    assert response.status_code == 200
    text = text_of(response)
    at = timezone.localtime(case.events.last().at)
    # The admin shows messages with a capital first letter.
    questions = "provenance, source, date, location, motivation"
    assert f"Rafa answered the checklist ({questions}) at {at:%H:%M} {NOT_SAVED}" in text
    assert "Eli&#x27;s notes" in response.content.decode()
    assert set(ChecklistItem.objects.filter(case=case).values_list("notes", flat=True)) == {"Rafa's notes"}


def test_it_refuses_a_stale_assignment(dana, milo, reviewer, other_reviewer):
    case = make_case(by=dana, stage="triage")
    url = reverse("admin:verify_case_assign", args=[case.pk])
    first, second = logged_in(dana), logged_in(milo)
    dana_token, milo_token = first.get(url).context["token"], second.get(url).context["token"]

    assert first.post(url, {"reviewer": reviewer.pk, "role": "lead", **dana_token}).status_code == 302
    response = second.post(url, {"reviewer": other_reviewer.pk, "role": "lead", **milo_token})

    assert response.status_code == 200
    at = timezone.localtime(case.events.last().at)
    assert f"Dana assigned rafa as lead reviewer at {at:%H:%M} {NOT_SAVED}" in text_of(response)
    assert f'<option value="{other_reviewer.pk}" selected>' in response.content.decode()
    assert list(Assignment.objects.filter(case=case).values_list("user__username", flat=True)) == ["rafa"]


def test_it_refuses_a_stale_unassignment(dana, milo, reviewer, other_reviewer):
    case = make_case(by=dana, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=dana)
    url = reverse("admin:verify_case_assign", args=[case.pk])
    first, second = logged_in(dana), logged_in(milo)
    dana_token, milo_token = first.get(url).context["token"], second.get(url).context["token"]

    assert first.post(url, {"reviewer": other_reviewer.pk, "role": "lead", **dana_token}).status_code == 302
    response = second.post(url, {"unassign": "lead", **milo_token})

    assert "Dana unassigned rafa and assigned rina as lead reviewer" in text_of(response)
    assert list(Assignment.objects.filter(case=case).values_list("user__username", flat=True)) == ["rina"]


def test_it_refuses_a_verdict_drafted_while_the_claim_changed_and_keeps_the_draft(dana, reviewer):
    case = make_case(by=dana, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=dana)
    case = services.transition_case(case=Case.objects.get(pk=case.pk), to=Stage.IN_REVIEW, by=dana)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status="confirmed", notes="", evidence_links=[])
    url = reverse("admin:verify_case_propose_verdict", args=[case.pk])
    drafting = logged_in(reviewer)
    token = drafting.get(url).context["token"]

    services.update_case(case=Case.objects.get(pk=case.pk), by=dana, changes={"claim": "A sharper claim."})
    draft = {
        "rating": "misleading",
        "confidence": "high",
        "summary": "Old footage, new caption.",
        "rationale": "Rafa's reasoning, typed before the claim changed.",
        "media-TOTAL_FORMS": 0,
        "media-INITIAL_FORMS": 0,
        **token,
    }
    response = drafting.post(url, draft)

    assert response.status_code == 200
    at = timezone.localtime(case.events.last().at)
    assert f"Dana changed the claim at {at:%H:%M} {NOT_SAVED}" in text_of(response)
    assert "Rafa&#x27;s reasoning, typed before the claim changed." in response.content.decode()
    assert not case.verdicts.exists()
    assert drafting.post(url, {**draft, **response.context["token"]}).status_code == 302
    assert case.verdicts.get().rationale == "Rafa's reasoning, typed before the claim changed."
