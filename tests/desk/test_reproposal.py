"""The verdict form: no rating chosen in advance, and a re-proposal that starts from the version sent back."""

import re

import pytest
from django.urls import reverse

from tests.factories import add_media, make_case
from verify import services
from verify.models import ChecklistItem
from verify.workflow import Stage


def propose_url(case):
    return reverse("admin:verify_case_propose_verdict", args=[case.pk])


@pytest.fixture
def case_in_review(desk, reviewer):
    case = make_case(by=desk, stage="triage", title="Bridge at Sudzha")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status=ChecklistItem.Status.CONFIRMED)
    return case


@pytest.fixture
def sent_back(desk, reviewer, editor, case_in_review):
    """Verdict v1, with a sighting, a link and a file rating as evidence, sent back by an editor."""
    case = case_in_review
    item = add_media(case, name="bridge.jpg")
    sighting = services.add_sighting(case=case, by=desk, platform="telegram", account="kursk_frontline")
    services.propose_verdict(
        case=case,
        by=reviewer,
        rating="misleading",
        confidence="medium",
        summary="A 2022 photo, captioned as this week",
        rationale="Reverse search finds it in 2022.\nThe bridge has since been rebuilt.",
        media_category="DecontextualizedContent",
        media_ratings=[
            {"media_item": item, "category": "DecontextualizedContent", "original_context": "Sudzha, March 2022"}
        ],
        evidence=[{"kind": "sighting", "id": sighting.pk}, {"kind": "link", "url": "https://archive.example/2022"}],
    )
    services.send_back_verdict(case=case, by=editor, reason="Name the first upload & link it <here>.")
    return {"case": case, "item": item, "sighting": sighting}


def selected_ratings(html: str) -> list[str]:
    rating_select = re.search(r'<select name="rating".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)" selected>', rating_select)


def test_it_preselects_no_rating_on_a_first_proposal(client, reviewer, case_in_review):
    client.force_login(reviewer)
    html = client.get(propose_url(case_in_review)).content.decode()
    assert selected_ratings(html) == [""]


def test_it_refuses_a_proposal_without_a_chosen_rating(client, reviewer, case_in_review):
    client.force_login(reviewer)
    data = {"confidence": "low", "summary": "s", "rationale": "r", "media-TOTAL_FORMS": 0, "media-INITIAL_FORMS": 0}
    response = client.post(propose_url(case_in_review), data)
    assert response.context["form"].errors["rating"] == ["This field is required."]
    assert not case_in_review.verdicts.exists()


def test_it_starts_a_re_proposal_from_the_version_sent_back(client, reviewer, sent_back):
    client.force_login(reviewer)
    response = client.get(propose_url(sent_back["case"]))
    form = response.context["form"]
    assert form.initial["rating"] == "misleading"
    assert form.initial["summary"] == "A 2022 photo, captioned as this week"
    assert form.initial["evidence_sightings"] == [sent_back["sighting"].pk]
    assert form.initial["evidence_links"] == "https://archive.example/2022"
    html = response.content.decode()
    assert selected_ratings(html) == ["misleading"]
    assert "Reverse search finds it in 2022.\nThe bridge has since been rebuilt.</textarea>" in html
    sighting_box = rf'<input type="checkbox" name="evidence_sightings" value="{sent_back["sighting"].pk}"[^>]*>'
    assert " checked" in re.search(sighting_box, html).group(0)


def test_it_starts_each_files_rating_from_the_version_sent_back(client, reviewer, sent_back):
    client.force_login(reviewer)
    ratings = client.get(propose_url(sent_back["case"])).context["ratings"]
    assert ratings.initial == [
        {
            "media_item_id": sent_back["item"].pk,
            "category": "DecontextualizedContent",
            "original_context": "Sudzha, March 2022",
            "original_link": "",
        }
    ]


def test_it_shows_the_send_back_reason_above_the_form(client, reviewer, editor, sent_back):
    client.force_login(reviewer)
    html = client.get(propose_url(sent_back["case"])).content.decode()
    notice = html.index('id="vd-sent-back"')
    assert notice < html.index('<select name="rating"')
    assert "Verdict v1 was sent back" in html
    assert "Name the first upload &amp; link it &lt;here&gt;." in html
    assert "eli" in html[notice : html.index('<select name="rating"')]


def test_it_proposes_the_re_proposal_as_a_new_version(client, reviewer, sent_back):
    case = sent_back["case"]
    client.force_login(reviewer)
    data = {
        "rating": "misleading",
        "confidence": "high",
        "summary": "A 2022 photo; first upload found",
        "rationale": "First uploaded on 3 March 2022.",
        "evidence_links": "https://archive.example/2022",
        "media-TOTAL_FORMS": 0,
        "media-INITIAL_FORMS": 0,
    }
    assert client.post(propose_url(case), data).status_code == 302
    assert list(case.verdicts.order_by("number").values_list("number", "status")) == [
        (1, "sent_back"),
        (2, "proposed"),
    ]


def test_it_shows_no_send_back_notice_on_a_first_proposal(client, reviewer, case_in_review):
    client.force_login(reviewer)
    assert 'id="vd-sent-back"' not in client.get(propose_url(case_in_review)).content.decode()
