"""The case page as a workspace: the moves offered and made from its header, the refresh that sends only what
changed, and a page whose queries do not grow with its files."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import add_media, make_case, make_user
from tests.media import jpeg_bytes
from verify import intake, pipeline, services
from verify.models import CaseEvent, Extraction
from verify.workspace.moves import next_moves

pytestmark = pytest.mark.django_db


def test_it_offers_the_desk_its_moves_with_their_inputs_and_says_which_cannot_be_made_yet(desk):
    case = make_case(by=desk, stage="triage")

    moves = {move.label: move for move in next_moves(case, desk, assignments=[])}

    assert list(moves) == [
        "Assign a reviewer",
        "Move to Collecting",
        "Move to In review",
        "Put on hold",
        "Mark as duplicate",
        "Dismiss",
    ]
    assert moves["Move to Collecting"].blocked == "the case has no media to collect yet; attach a file first"
    assert moves["Move to In review"].blocked == "the case has no lead reviewer; assign one first"
    assert moves["Put on hold"].needs_reason and moves["Dismiss"].needs_reason
    assert not moves["Put on hold"].blocked


def test_it_offers_a_reviewer_only_taking_the_case_until_they_lead_it(desk, reviewer):
    case = make_case(by=desk, stage="triage")
    assert [move.label for move in next_moves(case, reviewer, assignments=[])] == ["Take as lead"]

    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.transition_case(case=case, to="in_review", by=desk)

    assignments = list(case.assignments.all())
    assert [move.label for move in next_moves(case, reviewer, assignments=assignments)] == ["Propose a verdict"]


def test_it_offers_an_editor_approval_and_sending_back_of_a_verdict_someone_else_proposed(client, desk, reviewer):
    editor = make_user("editor", username="eli")
    case = make_case(by=desk, stage="triage")
    services.assign_reviewer(case=case, user=reviewer, by=desk)
    services.transition_case(case=case, to="in_review", by=desk)
    for item in case.checklist.all():
        services.answer_checklist_item(item=item, by=reviewer, status="unknown")
    services.propose_verdict(
        case=case, by=reviewer, rating="false", confidence="low", summary="s", rationale="r", evidence=[]
    )
    case.refresh_from_db()

    moves = {move.kind: move for move in next_moves(case, editor, assignments=list(case.assignments.all()))}

    assert list(moves) == ["assign", "approve", "send-back", "duplicate", "stage"]
    assert moves["send-back"].needs_reason
    client.force_login(editor)
    page = client.get(reverse("admin:verify_case_change", args=[case.pk])).text
    assert 'name="send_back"' in page and "Why it goes back" in page
    client.post(moves["send-back"].url, {"send_back": "1", "note": "Find the first upload"})
    case.refresh_from_db()
    assert case.stage == "in_review"


def test_it_refuses_a_move_from_the_header_without_the_reason_it_needs_and_makes_it_with_one(client, desk):
    case = make_case(by=desk, stage="triage")
    client.force_login(desk)
    url = reverse("admin:verify_case_move", args=[case.pk])

    refused = client.post(url, {"move": "stage", "to": "on_hold", "note": " "}, follow=True)

    assert "give a reason" in refused.text
    case.refresh_from_db()
    assert case.stage == "triage"

    client.post(url, {"move": "stage", "to": "on_hold", "note": "Waiting for the source to answer"})

    case.refresh_from_db()
    assert case.stage == "on_hold"
    assert CaseEvent.objects.filter(case=case, note="Waiting for the source to answer").exists()


def test_it_takes_a_case_as_lead_from_the_header(client, desk, reviewer):
    case = make_case(by=desk, stage="triage")
    client.force_login(reviewer)

    client.post(reverse("admin:verify_case_move", args=[case.pk]), {"move": "take"})

    assert case.assignments.get(role="lead").user == reviewer


def test_the_refresh_says_304_when_nothing_changed_and_sends_only_the_file_whose_readings_finished(
    client, desk, media_root, tasks_not_sent
):
    case = make_case(by=desk, stage="triage")
    first, second = (
        intake.ingest_stream(
            case=case, source=io.BytesIO(jpeg_bytes(size=size)), original_name=name, by=desk, origin="tip"
        ).media_item
        for name, size in (("first.jpg", (64, 48)), ("second.jpg", (80, 60)))
    )
    client.force_login(desk)
    live = reverse("admin:verify_case_live", args=[case.pk])
    everything = client.get(live).json()
    assert set(everything["files"]) == {str(first.pk), str(second.pk)}
    assert set(everything["sections"]) == {"progress", "summary", "story"}

    assert client.get(live, {"known": everything["known"]}).status_code == 304

    for extraction in second.extractions.order_by("pk"):
        pipeline.run_extraction(extraction.pk)
    changed = client.get(live, {"known": everything["known"]}).json()

    assert list(changed["files"]) == [str(second.pk)]
    assert "second.jpg" in changed["files"][str(second.pk)] and "vd-pending" not in changed["files"][str(second.pk)]
    assert "progress" in changed["sections"]
    assert changed["order"] == [str(first.pk), str(second.pk)]
    assert changed["pending"] == first.extractions.exclude(status__in=["ok", "unsupported", "failed"]).count()


def test_the_case_page_leaves_each_files_readings_to_its_details(client, desk, media_root, tasks_not_sent):
    case = make_case(by=desk, stage="triage")
    item = intake.ingest_stream(
        case=case, source=io.BytesIO(jpeg_bytes()), original_name="street.jpg", by=desk, origin="tip"
    ).media_item
    for extraction in item.extractions.order_by("pk"):
        pipeline.run_extraction(extraction.pk)
    client.force_login(desk)

    page = client.get(reverse("admin:verify_case_change", args=[case.pk])).text
    details = client.get(reverse("admin:verify_case_file_details", args=[case.pk, item.pk])).text

    assert "street.jpg" in page and "Raw readings" not in page and "vd-summary" not in page
    assert "Raw readings" in details and "vd-summary" in details and item.sha256 in details


def test_the_case_page_costs_the_same_queries_with_3_files_as_with_30(client, desk):
    reviewer = make_user("reviewer")
    cases = []
    for files in (3, 30):
        case = make_case(by=desk, stage="triage")
        services.assign_reviewer(case=case, user=reviewer, by=desk)
        for number in range(files):
            item = add_media(case, name=f"file-{number}.jpg", kind="photo")
            Extraction.objects.create(media_item=item, extractor="exif", status="ok", result={"make": "Apple"})
        cases.append(case)
    client.force_login(desk)
    counts = []
    for case in cases:
        url = reverse("admin:verify_case_change", args=[case.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_a_big_cases_timeline_and_places_are_drawn_when_asked_for(client, desk, settings):
    settings.CASE_STORY_INLINE_FILES = 2
    case = make_case(by=desk, stage="triage")
    for number in range(3):
        item = add_media(case, name=f"file-{number}.jpg", kind="photo")
        Extraction.objects.create(
            media_item=item, extractor="exif", status="ok", result={"datetime_original": "2024:10:18 08:40:00"}
        )
    client.force_login(desk)

    page = client.get(reverse("admin:verify_case_change", args=[case.pk])).text
    story_url = reverse("admin:verify_case_story", args=[case.pk])
    story = client.get(story_url).text

    assert "This case holds 3 files" in page and f'data-story-url="{story_url}"' in page
    assert "vd-timeline" not in page and "Captured: file-0.jpg" not in page
    assert "vd-timeline" in story and all(f"Captured: file-{number}.jpg" in story for number in range(3))

    settings.CASE_STORY_INLINE_FILES = 3
    page = client.get(reverse("admin:verify_case_change", args=[case.pk])).text
    assert "Captured: file-2.jpg" in page and "data-story-url" not in page
