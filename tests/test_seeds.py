"""The seed loader: validates first, writes all or nothing, repairs broken encoding, and is idempotent."""

import json

import pytest

from verify.models import Case, CaseEvent, Sighting
from verify.seeds import DEFAULT_SEED_FILE, SeedError, load_seeds, repair_text


def snapshot():
    return (
        sorted(Case.objects.values_list("seed_key", "stage", "updated_at")),
        Sighting.objects.count(),
        CaseEvent.objects.count(),
    )


def write_seed(tmp_path, mutate):
    data = json.loads(DEFAULT_SEED_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_it_loads_every_seed_case_with_its_sightings(db):
    report = load_seeds()
    assert len(report.created) == 7
    tsaplienko = Case.objects.get(seed_key="tsaplienko-kursk-footage")
    assert tsaplienko.stage == "in_review"
    telegram = tsaplienko.sightings.get(platform="telegram")
    assert telegram.posted_at.isoformat() == "2024-11-04T22:00:00+00:00"
    figures = Case.objects.get(seed_key="north-korean-troop-numbers").sightings.values_list("caption", flat=True)
    assert {c.split(":")[0] for c in figures} >= {"3,000", "11,000", "12,000", "15,000"}


def test_it_changes_nothing_when_run_twice(db):
    load_seeds()
    before = snapshot()
    report = load_seeds()
    assert snapshot() == before
    assert (len(report.created), len(report.updated), len(report.unchanged)) == (0, 0, 7)


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
        (lambda d: d["cases"][1]["sightings"][1].update(posted_at="22/10/2024"), "is not an ISO 8601 date-time"),
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
        (lambda d: d["cases"][3].pop("verdict"), "stage published needs a 'verdict'"),
        (lambda d: d["cases"][3]["verdict"].update(rating="fake"), "unknown rating 'fake'"),
        (lambda d: d["cases"][5].pop("hold_reason"), "stage on_hold needs a 'hold_reason'"),
        (lambda d: d["cases"][6].update(duplicate_of="nowhere"), "needs 'duplicate_of' naming an earlier case"),
    ],
)
def test_it_refuses_a_seed_stage_without_what_it_needs(db, tmp_path, mutate, message):
    with pytest.raises(SeedError, match=message):
        load_seeds(write_seed(tmp_path, mutate))
    assert not Case.objects.exists()
