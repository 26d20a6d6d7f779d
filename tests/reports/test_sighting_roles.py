"""Responses to a claim (officials confirming or disputing it) are evidence, never its first appearance."""

from datetime import UTC, datetime

from verify import flags, services
from verify.models import Flag, Sighting
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


def test_it_leaves_responses_out_of_the_claims_appearances(published, staff):
    add_early_response(published, staff)

    claim = claim_review(published)["itemReviewed"]

    assert "https://example.org/briefing" not in [a["url"] for a in claim["appearance"]]
    assert claim["firstAppearance"]["url"] != "https://example.org/briefing"
    assert claim["author"]["name"] != RESPONSE_ACCOUNT
    assert claim["datePublished"] != "2024-10-01T09:00:00+00:00"


def test_it_does_not_flag_a_response_dated_before_the_claimed_time(published, staff):
    add_early_response(published, staff)
    flags.recompute_flags(published)
    assert not Flag.objects.filter(case=published, kind=flags.FIRST_SEEN_BEFORE_CLAIM, media_item=None).exists()


def test_it_flags_an_appearance_dated_before_the_claimed_time(published, staff):
    response = add_early_response(published, staff)
    services.update_sighting(sighting=response, by=staff["desk"], changes={"role": Sighting.Role.APPEARANCE})
    flag = Flag.objects.get(case=published, kind=flags.FIRST_SEEN_BEFORE_CLAIM, media_item=None)
    assert RESPONSE_ACCOUNT in flag.message


def test_it_exports_each_sightings_role_and_dates_first_seen_by_appearances_only(published, staff):
    from verify.reports import load_report_case
    from verify.reports.data import case_report

    before = case_report(load_report_case(published.pk))["first_seen"]
    add_early_response(published, staff)

    report = case_report(load_report_case(published.pk))

    assert report["first_seen"] == before
    roles = {s["account"]: s["role"] for s in report["sightings"]}
    assert roles[RESPONSE_ACCOUNT] == "response"
    assert set(roles.values()) == {"appearance", "response"}
