"""The seed loader: validates first, writes all or nothing, repairs broken encoding, and is idempotent."""

import io
import json

import pytest
from django.core.management import call_command

from verify import case_story
from verify.models import Case, CaseEvent, Flag, Sighting
from verify.seeds import DEFAULT_SEED_FILE, SeedError, load_seeds, repair_text

SEED_CASES = 9
# Who gave each troop figure, as the reports attribute them.
TROOP_FIGURES = {
    "3,000": "John Kirby, U.S. National Security Council spokesperson",
    "11,000": "Kyrylo Budanov, head of Ukrainian military intelligence",
    "12,000": "Defence Intelligence of Ukraine (official channel)",
    "15,000": "Rustem Umerov, Ukrainian Defence Minister (interview with KBS)",
}


def snapshot():
    return (
        sorted(Case.objects.values_list("seed_key", "stage", "updated_at")),
        Sighting.objects.count(),
        CaseEvent.objects.count(),
    )


def seed_case(data: dict, key: str) -> dict:
    return next(case for case in data["cases"] if case["key"] == key)


def write_seed(tmp_path, mutate):
    data = json.loads(DEFAULT_SEED_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_it_loads_every_seed_case_with_its_sightings(db):
    report = load_seeds()
    assert len(report.created) == SEED_CASES
    tsaplienko = Case.objects.get(seed_key="tsaplienko-kursk-footage")
    assert tsaplienko.stage == "in_review"
    assert tsaplienko.sightings.count() == 6


def test_it_keeps_who_gave_each_troop_figure(db):
    load_seeds()
    sightings = Case.objects.get(seed_key="north-korean-troop-numbers").sightings.all()
    given = {s.caption.split(":")[0]: s.account for s in sightings}
    assert {figure: given.get(figure) for figure in TROOP_FIGURES} == TROOP_FIGURES


def test_it_stores_a_date_only_sighting_at_midday_utc_so_it_reads_as_that_day(db):
    load_seeds()
    telegram = Sighting.objects.get(case__seed_key="tsaplienko-kursk-footage", platform="telegram")
    assert telegram.posted_at.isoformat() == "2024-11-05T12:00:00+00:00"


def test_it_takes_the_first_appearance_from_the_footage_not_from_officials_responses(db):
    load_seeds()
    case = Case.objects.get(seed_key="tsaplienko-kursk-footage")
    putin = case.sightings.get(account__startswith="Vladimir Putin")
    assert putin.role == "response" and putin.posted_at.date().isoformat() == "2024-10-24"
    story = case_story.case_story(case)
    events = story["events"] + story["undated"]
    (first,) = [event for event in events if event["first_appearance"]]
    assert first["account"] == "Andriy Tsaplienko (Ukrainian journalist)"
    assert not Flag.objects.filter(case=case, kind="first-seen-before-claim").exists()


def test_it_changes_nothing_when_run_twice(db):
    load_seeds()
    before = snapshot()
    report = load_seeds()
    assert snapshot() == before
    assert (len(report.created), len(report.updated), len(report.unchanged)) == (0, 0, SEED_CASES)


def test_it_changes_nothing_when_the_command_runs_twice(db):
    call_command("load_seeds", stdout=io.StringIO())
    before = snapshot()
    out = io.StringIO()
    call_command("load_seeds", stdout=out)
    assert snapshot() == before
    assert f"0 created, 0 updated, {SEED_CASES} unchanged" in out.getvalue()


def test_it_repairs_text_read_with_the_wrong_encoding(db):
    report = load_seeds()
    assert report.repaired_texts == 1
    caption = Sighting.objects.get(case__seed_key="sergeevka-videos", platform="news_site").caption
    assert caption.startswith("Théo Clément, a researcher")


def test_it_leaves_correct_text_alone():
    text = "Tsaplienko’s “first footage” — Kursk, Курская область"
    assert repair_text(text) == text


def test_it_updates_a_changed_seed_case_and_records_the_change(db, tmp_path):
    load_seeds()
    path = write_seed(tmp_path, lambda d: d["cases"][0].update(title="Retitled"))
    report = load_seeds(path)
    assert report.updated == ["tsaplienko-kursk-footage"]
    event = CaseEvent.objects.filter(case__seed_key="tsaplienko-kursk-footage", kind="updated").get()
    assert event.new == {"title": "Retitled"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["cases"][2].pop("claim"), "case 3 (sergeevka-videos): missing field 'claim'"),
        (lambda d: d["cases"][0].update(stage="verified"), "stage must be one of new, triage, .*, got 'verified'"),
        (lambda d: d["cases"][1]["sightings"][0].update(platform="myspace"), "sighting 1: unknown platform 'myspace'"),
        (lambda d: d["cases"][1]["sightings"][1].update(posted_at="22/10/2024"), "is not a date (YYYY-MM-DD)"),
        (lambda d: d["cases"][1]["sightings"][1].update(posted_at="2024-02-30"), "'2024-02-30' is not a date"),
        (lambda d: d["cases"][1]["sightings"][1].update(role="rumour"), "role must be one of appearance, response"),
        (
            lambda d: d["cases"][1]["sightings"].append(dict(d["cases"][1]["sightings"][0])),
            "sighting 4: same platform and account as sighting 1",
        ),
        (lambda d: d["cases"][0].update(colour="red"), "unknown field 'colour'"),
        (lambda d: d["cases"][1].update(key="tsaplienko-kursk-footage"), "is used twice"),
    ],
)
def test_it_refuses_a_bad_seed_file_and_writes_nothing(db, tmp_path, mutate, message):
    path = write_seed(tmp_path, mutate)
    with pytest.raises(SeedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_seeds(path)
    assert not Case.objects.exists()


def test_it_names_a_missing_or_unreadable_file(db, tmp_path):
    with pytest.raises(SeedError, match="no such file"):
        load_seeds(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SeedError, match="not valid UTF-8 JSON"):
        load_seeds(broken)


def test_it_walks_seed_cases_to_their_stages_through_the_services(db):
    load_seeds()
    stages = dict(Case.objects.values_list("seed_key", "stage"))
    assert stages["asian-origin-soldiers-photos"] == "published"
    assert stages["sergeevka-videos"] == "awaiting_approval"
    assert stages["north-korean-troop-numbers"] == "on_hold"
    assert set(stages.values()) == {
        "new", "triage", "in_review", "awaiting_approval", "published", "on_hold", "duplicate", "dismissed"
    }  # fmt: skip
    dismissed = Case.objects.get(seed_key="north-korean-ammunition-allegations")
    reason = dismissed.events.filter(kind="stage_changed").last().note
    assert reason.startswith("No photo or video comes with this claim")
    duplicate = Case.objects.get(seed_key="tsaplienko-footage-second-report")
    assert (duplicate.stage, duplicate.duplicate_of.seed_key) == ("duplicate", "tsaplienko-kursk-footage")
    verdict = Case.objects.get(seed_key="asian-origin-soldiers-photos").verdicts.get()
    assert (verdict.rating, verdict.media_category, verdict.status) == (
        "misleading",
        "DecontextualizedContent",
        "approved",
    )
    assert verdict.author != verdict.reviewed_by


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: seed_case(d, "asian-origin-soldiers-photos").pop("verdict"), "stage published needs a 'verdict'"),
        (
            lambda d: seed_case(d, "asian-origin-soldiers-photos")["verdict"].update(rating="fake"),
            "unknown rating 'fake'",
        ),
        (
            lambda d: seed_case(d, "north-korean-troop-numbers").pop("hold_reason"),
            "stage on_hold needs a 'hold_reason'",
        ),
        (
            lambda d: seed_case(d, "north-korean-ammunition-allegations").pop("dismiss_reason"),
            "stage dismissed needs a 'dismiss_reason'",
        ),
        (
            lambda d: seed_case(d, "tsaplienko-footage-second-report").update(duplicate_of="nowhere"),
            "needs 'duplicate_of' naming an earlier case",
        ),
        (
            lambda d: seed_case(d, "sergeevka-videos")["sent_back"][0].pop("reason"),
            "sent_back 1: expected a verdict with the editor's 'reason'",
        ),
    ],
)
def test_it_refuses_a_seed_stage_without_what_it_needs(db, tmp_path, mutate, message):
    with pytest.raises(SeedError, match=message):
        load_seeds(write_seed(tmp_path, mutate))
    assert not Case.objects.exists()


def test_it_keeps_a_sent_back_version_before_the_verdict_awaiting_approval(db):
    load_seeds()
    case = Case.objects.get(seed_key="sergeevka-videos")
    first, second = case.verdicts.order_by("number")
    assert (first.rating, first.status) == ("verified", "sent_back")
    assert first.review_note.startswith("An accent heard by one researcher")
    assert (second.rating, second.status, case.stage) == ("unverifiable", "proposed", "awaiting_approval")


def explained_gaps(case: Case) -> set[str]:
    """The ClaimReview problems that only say the desk lacks a fact (a link, a date, a public account)."""
    from verify.reports.claimreview import public_sightings

    appearances = [s for s in public_sightings(case) if s["role"] == "appearance"]
    verdict = case.verdicts.get(status="approved")
    gaps = set()
    if not any(s["url"] for s in appearances):
        gaps |= {
            "itemReviewed lacks appearance",
            "itemReviewed lacks firstAppearance",
            "appearance {} is not a CreativeWork with a url",
        }
    if not (appearances and appearances[0]["account"]):
        gaps |= {"itemReviewed lacks author", "the claim's author is not a Person or Organization"}
    if not (appearances and appearances[0]["posted_at"]):
        gaps |= {"itemReviewed lacks datePublished", "Claim.datePublished is not an ISO 8601 time"}
    if not verdict.media_category and not verdict.media_ratings.exists():
        gaps.add("no associatedMediaReview")
    return gaps


def test_it_publishes_seed_claim_reviews_that_lack_only_facts_the_reports_do_not_give(db):
    from tests.reports.test_claimreview import structure_problems
    from verify.reports.claimreview import claim_review

    load_seeds()
    published = list(Case.objects.filter(stage="published").order_by("pk"))
    assert [case.seed_key for case in published] == ["uniform-handout-video", "asian-origin-soldiers-photos"]
    for case in published:
        problems = set(structure_problems(claim_review(case), per_file=False))
        assert problems - explained_gaps(case) == set(), case.seed_key
