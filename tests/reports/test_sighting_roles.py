"""Responses to a claim (officials confirming or disputing it) are evidence, never its first appearance."""

from datetime import UTC, datetime

import pytest

from tests.reports.conftest import open_reviewed_case, propose
from verify import flags, services
from verify.models import Flag, Sighting
from verify.reports import load_report_case
from verify.reports.claimreview import claim_review

RESPONSE_ACCOUNT = "Defence ministry spokesperson"


def add_early_response(case, staff) -> Sighting:
    """A response dated well before every appearance and before the claimed time."""
    return services.add_sighting(
        case=case,
        by=staff["desk"],
        role=Sighting.Role.RESPONSE,
        platform="official",
        account=RESPONSE_ACCOUNT,
        url="https://example.org/briefing",
        posted_at=datetime(2024, 10, 1, 9, 0, tzinfo=UTC),
        caption="Declined to confirm the reports.",
    )


@pytest.fixture
def reviewed(staff, media_root):
    """A case in review; a published one is frozen, so sightings are added before it is published."""
    return open_reviewed_case(staff, claim="Video shows soldiers in Kursk.", title="Soldiers in Kursk")


def test_it_leaves_responses_out_of_the_claims_appearances(reviewed, staff):
    add_early_response(reviewed, staff)
    propose(staff, reviewed, summary="From 2021.", rationale="Found earlier.", rating="misleading")
    reviewed.refresh_from_db()
    services.approve_verdict(case=reviewed, by=staff["editor"])

    claim = claim_review(load_report_case(reviewed.pk))["itemReviewed"]

    assert "https://example.org/briefing" not in [a["url"] for a in claim["appearance"]]
    assert claim["firstAppearance"]["url"] != "https://example.org/briefing"
    assert claim["author"]["name"] != RESPONSE_ACCOUNT
    assert claim["datePublished"] != "2024-10-01T09:00:00+00:00"


def test_it_does_not_flag_a_response_dated_before_the_claimed_time(reviewed, staff):
    add_early_response(reviewed, staff)
    flags.recompute_flags(reviewed)
    assert not Flag.objects.filter(case=reviewed, kind=flags.FIRST_SEEN_BEFORE_CLAIM, media_item=None).exists()


def test_it_flags_an_appearance_dated_before_the_claimed_time(reviewed, staff):
    response = add_early_response(reviewed, staff)
    services.update_sighting(sighting=response, by=staff["desk"], changes={"role": Sighting.Role.APPEARANCE})
    flag = Flag.objects.get(case=reviewed, kind=flags.FIRST_SEEN_BEFORE_CLAIM, media_item=None)
    assert RESPONSE_ACCOUNT in flag.message


def test_it_exports_each_sightings_role_and_dates_first_seen_by_appearances_only(reviewed, staff):
    from verify.reports.data import case_report

    before = case_report(load_report_case(reviewed.pk))["first_seen"]
    add_early_response(reviewed, staff)

    report = case_report(load_report_case(reviewed.pk))

    assert report["first_seen"] == before
    roles = {s["account"]: s["role"] for s in report["sightings"]}
    assert roles[RESPONSE_ACCOUNT] == "response"
    assert set(roles.values()) == {"appearance", "response"}
