"""The case page's history: in words, and the pipeline's stage moves while files are read as one line."""

import io

from django.urls import reverse

from tests.factories import make_case, make_user
from tests.media import jpeg_bytes
from verify import intake, pipeline, services
from verify.desk.formats import moment
from verify.desk.history import history_rows
from verify.models import CaseEvent, Extraction
from verify.workflow import Stage


def read_everything() -> None:
    for extraction in Extraction.objects.filter(status=Extraction.Status.PENDING).order_by("pk"):
        pipeline.run_extraction(extraction.pk)


def add_photo(case, by, seed: int, name: str) -> None:
    intake.ingest_stream(case=case, source=io.BytesIO(jpeg_bytes(seed=seed)), original_name=name, by=by, origin="tip")


def case_read_three_times(desk, reviewer):
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    for seed in range(3):
        add_photo(case, desk, seed, f"photo-{seed}.jpg")
        read_everything()
    return case


def test_it_groups_the_pipelines_stage_moves_into_one_line(media_root, tasks_not_sent, desk, reviewer):
    case = case_read_three_times(desk, reviewer)

    rows = history_rows(list(case.events.select_related("actor")))

    moves = [row for row in rows if row.moves > 1]
    assert len(moves) == 1
    assert str(moves[0].change) == "<b>stage</b>: Triage → Collecting ⇄ In review ×6 while files were read"
    assert moves[0].by == "system"
    assert moves[0].when.startswith(moment(moves[0].first_at) + " to ")
    # Each file's custody stays on its own line; no other stage move is left over.
    assert [row.kind for row in rows].count("Media collected") == 3
    assert [row for row in rows if row.kind == "Stage changed" and row.moves == 1 and row.by == "system"] == []


def test_it_keeps_a_persons_stage_move_on_its_own_line_between_runs(media_root, tasks_not_sent, desk, reviewer):
    case = case_read_three_times(desk, reviewer)
    case.refresh_from_db()
    services.transition_case(case=case, to=Stage.ON_HOLD, by=desk, note="waiting for the source")
    case = services.transition_case(case=case, to=Stage.IN_REVIEW, by=desk)
    add_photo(case, desk, 9, "late.jpg")
    read_everything()

    rows = history_rows(list(case.events.select_related("actor")))

    stage_rows = [(row.by, row.moves, str(row.change)) for row in rows if row.kind == "Stage changed"]
    assert stage_rows[:4] == [
        ("system", 2, "<b>stage</b>: Collecting ⇄ In review ×2 while files were read"),
        ("dana", 1, "<b>stage</b>: On hold → In review"),
        ("dana", 1, "<b>stage</b>: In review → On hold"),
        ("system", 6, "<b>stage</b>: Triage → Collecting ⇄ In review ×6 while files were read"),
    ]


def test_it_writes_custody_in_words(media_root, tasks_not_sent, desk):
    case = make_case(by=desk, stage="triage")
    add_photo(case, desk, 1, "kursk.jpg")
    add_photo(make_case(by=desk, stage="triage"), desk, 1, "kursk.jpg")

    event = case.events.get(kind=CaseEvent.Kind.MEDIA_COLLECTED)
    (row,) = [row for row in history_rows([event])]

    assert "<b>size</b>: " in row.change and " kB" in row.change
    assert f"{event.new['size']}" not in row.change
    assert "<b>already in the archive</b>: no" in row.change
    assert "True" not in row.change and "False" not in row.change
    assert " UTC" in row.change  # received at, in the desk's style
    assert row.by == "dana"


def test_it_names_people_in_the_history_by_full_name(desk):
    reviewer = make_user("reviewer", username="rafa", first_name="Rafael", last_name="Ortiz")
    desk.first_name, desk.last_name = "Dana", "Lee"
    desk.save()
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=desk)

    rows = history_rows(list(case.events.select_related("actor")))

    assigned = next(row for row in rows if row.kind == "Reviewer assigned")
    assert assigned.by == "Dana Lee"
    assert "<b>reviewer</b>: Rafael Ortiz" in assigned.change


def test_it_shows_the_grouped_history_on_the_case_page(client, media_root, tasks_not_sent, desk, reviewer):
    case = case_read_three_times(desk, reviewer)
    client.force_login(desk)

    page = client.get(reverse("admin:verify_case_change", args=[case.pk])).text

    assert 'id="events-group"' in page
    assert "Collecting ⇄ In review ×6 while files were read" in page
    assert page.count("Every file&#x27;s extractions have an outcome") == 0
