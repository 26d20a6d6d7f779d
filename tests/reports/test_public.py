"""The public verdict page: only what was published, with the ClaimReview embedded."""

import json
import re

import pytest
from django.urls import reverse

from tests.reports.conftest import CHECKLIST_NOTE, ORIGINAL_NAME, REVIEW_NOTE, TIPSTER
from verify.models import Case, Publication, Sighting
from verify.record.frozen import PUBLIC_STAGES
from verify.reports.claimreview import claim_review
from verify.workflow import Stage

SCRIPT_BREAKER = "</script><script>alert(1)</script>"


def page(client, case_id: int):
    return client.get(reverse("public-verdict", args=[case_id]))


def embedded_jsonld(html: str) -> dict:
    (body,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(body)


def test_it_lives_at_a_stable_address():
    assert reverse("public-verdict", args=[42]) == "/verdicts/42/"


def test_it_shows_a_published_verdict(client, published):
    response = page(client, published.pk)
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        published.title,
        "Misleading / miscaptioned",
        "The footage is from 2021 and shows a Donetsk training ground.",
        "The uniforms do not match.",
        "Filmed in Donetsk in June 2021, not in Kursk.",
        "https://t.me/example_channel/4411",
        "example_channel",
    ):
        assert text in html


def test_it_embeds_the_claim_review(client, published):
    html = page(client, published.pk).content.decode()
    assert embedded_jsonld(html) == json.loads(json.dumps(claim_review(published)))


@pytest.mark.parametrize("stage", [s for s in Stage if s not in PUBLIC_STAGES])
def test_it_answers_404_for_every_stage_that_takes_a_publication_down(client, published, stage):
    # A reopened case keeps its page (PUBLIC_STAGES); any other stage shows nothing, publication or not.
    Case.objects.filter(pk=published.pk).update(stage=stage)
    response = page(client, published.pk)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "There is no published verdict at this address."


@pytest.mark.parametrize("stage", list(Stage))
def test_it_answers_404_for_an_approved_verdict_that_was_never_published(client, published, stage):
    # The page reads only publications: an approved verdict on file is not enough.
    Publication.objects.filter(case=published).delete()
    Case.objects.filter(pk=published.pk).update(stage=stage)
    response = page(client, published.pk)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "There is no published verdict at this address."


def test_it_answers_404_for_a_proposed_verdict_awaiting_approval(client, awaiting_approval):
    response = page(client, awaiting_approval.pk)
    assert response.status_code == 404
    assert b"DRAFT-88" not in response.content


def test_it_answers_404_for_a_case_that_does_not_exist(client, db):
    assert page(client, 999999).status_code == 404


def test_it_leaks_no_notes_names_hashes_or_paths(client, published, staff):
    html = page(client, published.pk).content.decode()
    private = [CHECKLIST_NOTE, REVIEW_NOTE, TIPSTER, ORIGINAL_NAME, "/desk/media/", "Archived original"]
    for user in staff.values():
        private += [user.get_username(), user.first_name, user.last_name]
    for item in published.media_items.all():
        private += [item.sha256, item.file.name]
    for event in ("Case opened", "Checklist answered", "Verdict approved", "Media collected"):
        private.append(event)
    assert [text for text in private if text in html] == []
    assert "sha256" not in html.lower()


def test_it_escapes_free_text_in_html_and_json_ld(client, make_published):
    case = make_published(title=f"Title {SCRIPT_BREAKER}", claim=f"Claim {SCRIPT_BREAKER}", summary=SCRIPT_BREAKER)
    html = page(client, case.pk).content.decode()
    assert "<script>alert(1)" not in html
    assert html.count("<script") == 1 and html.count("</script>") == 1
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert embedded_jsonld(html)["claimReviewed"] == f"Claim {SCRIPT_BREAKER}"


def test_it_links_only_web_addresses(client, published):
    Sighting.objects.filter(case=published).update(url="javascript:alert(1)")
    assert b"javascript:" not in page(client, published.pk).content


def test_it_sends_a_strict_content_security_policy(client, published):
    response = page(client, published.pk)
    directives = set(response["Content-Security-Policy"].split("; "))
    assert {"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} <= directives
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_it_keeps_the_map_tile_host_out_of_its_policy(client, published, settings):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert "tiles.example.org" not in page(client, published.pk)["Content-Security-Policy"]
