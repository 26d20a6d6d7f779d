"""Published means frozen: the public page, JSON-LD and reports come from the publication taken at approval."""

import io
import json
import re
from importlib import import_module

import pytest
from django.apps import apps as live_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from tests.factories import add_media, make_user
from tests.media import jpeg_bytes
from tests.reports.conftest import propose
from verify import intake, services
from verify.models import Case, CaseEvent, ChecklistItem, Publication, Sighting, Verdict
from verify.record import publishing
from verify.record.views import REASON_REQUIRED
from verify.reports import load_report_case
from verify.reports.claimreview import claim_review
from verify.reports.csv import case_row
from verify.reports.data import case_report
from verify.reports.pdf import render_html
from verify.workflow import ConditionNotMet, NotPermitted, Stage, WorkflowError

PUBLISHED_CLAIM = "Video shows North Korean soldiers learning Russian words in Kursk."
EDITED_CLAIM = "EDITED-claim that was never approved"
CORRECTED_CLAIM = "Video shows soldiers training in Donetsk oblast, said to be in Kursk."
CORRECTION = "The training ground is in Donetsk oblast, not Luhansk as first written."


def public_page(client, case) -> str:
    response = client.get(reverse("public-verdict", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def embedded_jsonld(html: str) -> dict:
    (body,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(body)


@pytest.fixture
def second_editor(db):
    return make_user("editor", username="editor-second", first_name="Ines", last_name="Okafor")


def reopen(case, by, kind="correction", reason=CORRECTION) -> Case:
    return publishing.reopen_case(case=Case.objects.get(pk=case.pk), by=by, kind=kind, reason=reason)


def republish(staff, case, approver, *, summary="Corrected: filmed in Donetsk oblast in 2021.", rating="false"):
    propose(staff, Case.objects.get(pk=case.pk), summary=summary, rationale="Placed again.", rating=rating)
    services.approve_verdict(case=Case.objects.get(pk=case.pk), by=approver)
    return load_report_case(case.pk)


def test_it_takes_one_publication_at_approval_with_its_time_and_approver(published, staff):
    publication = Publication.objects.get(case=published)
    verdict = published.verdicts.get(status=Verdict.Status.APPROVED)
    assert (publication.number, publication.kind, publication.approved_by) == (1, "first", staff["editor"])
    assert publication.approved_at == verdict.reviewed_at
    assert publication.document["public"]["claim"] == PUBLISHED_CLAIM
    assert publication.document["report"]["publication"]["number"] == 1


def test_it_keeps_the_public_page_and_json_ld_as_published_after_a_direct_edit(client, published):
    Case.objects.filter(pk=published.pk).update(claim=EDITED_CLAIM, title="EDITED title")
    Sighting.objects.create(case=published, url="https://edited.example/1", platform="x", account="EDITED-account")
    Verdict.objects.filter(case=published).update(summary="EDITED summary")

    html = public_page(client, published)
    assert PUBLISHED_CLAIM in html
    assert "EDITED" not in html
    jsonld = embedded_jsonld(html)
    assert jsonld["claimReviewed"] == PUBLISHED_CLAIM
    assert "EDITED" not in json.dumps(jsonld)
    assert claim_review(load_report_case(published.pk))["claimReviewed"] == PUBLISHED_CLAIM


def test_it_keeps_every_report_as_published_after_a_direct_edit(published):
    Case.objects.filter(pk=published.pk).update(claim=EDITED_CLAIM)
    Sighting.objects.create(case=published, url="https://edited.example/1", platform="x", account="EDITED-account")
    report = case_report(load_report_case(published.pk))
    assert report["claim"] == PUBLISHED_CLAIM
    assert "EDITED-account" not in json.dumps(report)
    assert PUBLISHED_CLAIM in case_row(report)
    assert report["publication"]["kind"] == "first"
    html = render_html(load_report_case(published.pk))
    assert PUBLISHED_CLAIM in html and EDITED_CLAIM not in html and "EDITED-account" not in html


@pytest.mark.parametrize(
    "edit",
    [
        lambda case, staff: services.update_case(case=case, by=staff["desk"], changes={"claim": EDITED_CLAIM}),
        lambda case, staff: services.add_sighting(case=case, by=staff["desk"], url="https://x.example/1"),
        lambda case, staff: services.update_sighting(
            sighting=case.sightings.first(), by=staff["desk"], changes={"caption": "EDITED"}
        ),
        lambda case, staff: services.answer_checklist_item(
            item=case.checklist.first(), by=staff["editor"], status=ChecklistItem.Status.UNKNOWN
        ),
    ],
    ids=["case fields", "new sighting", "sighting", "checklist"],
)
def test_it_refuses_edits_to_a_published_case(published, staff, edit):
    with pytest.raises(ConditionNotMet, match=f"Case #{published.pk} is (published|Published)"):
        edit(published, staff)
    assert Case.objects.get(pk=published.pk).claim == PUBLISHED_CLAIM
    assert not published.sightings.filter(caption="EDITED").exists()


def test_it_refuses_a_file_added_to_a_published_case(published, staff, tasks_not_sent):
    with pytest.raises(intake.IntakeError, match="reopen it before adding files"):
        intake.ingest_stream(
            case=published, source=io.BytesIO(jpeg_bytes()), original_name="late.jpg", by=staff["desk"], origin="t"
        )
    assert published.case_media.count() == 2


def test_it_refuses_the_case_form_of_a_published_case_and_keeps_the_input(client, published, staff):
    client.force_login(staff["desk"])
    url = reverse("admin:verify_case_change", args=[published.pk])
    page = client.get(url)
    assert "its record is frozen" in page.content.decode()
    form = page.context["adminform"].form
    data = {
        "title": "A new title typed by the desk",
        "claim": EDITED_CLAIM,
        "priority": published.priority,
        "case_version": form["case_version"].value(),
        "seen_event": form["seen_event"].value(),
        **{f"{p}-TOTAL_FORMS": 0 for p in ("sightings", "assignments", "checklist", "verdicts", "events")},
        **{f"{p}-INITIAL_FORMS": 0 for p in ("sightings", "assignments", "checklist", "verdicts", "events")},
    }
    response = client.post(url, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Case #{published.pk} is published, so its record is frozen" in html
    assert "A new title typed by the desk" in html
    assert Case.objects.get(pk=published.pk).claim == PUBLISHED_CLAIM


def test_it_refuses_to_reopen_without_a_reason(client, published, staff):
    with pytest.raises(WorkflowError, match="Say why the case is reopened for a correction"):
        reopen(published, staff["editor"], reason="   ")
    client.force_login(staff["editor"])
    response = client.post(reverse("admin:verify_case_reopen", args=[published.pk]), {"kind": "correction"})
    assert REASON_REQUIRED in response.content.decode()
    response = client.post(
        reverse("admin:verify_case_reopen", args=[published.pk]), {"kind": "correction", "reason": "  \n "}
    )
    assert REASON_REQUIRED in response.content.decode()
    assert Case.objects.get(pk=published.pk).stage == Stage.PUBLISHED


def test_it_lets_only_an_editor_reopen(published, staff):
    with pytest.raises(NotPermitted, match="Only editor staff may reopen published cases"):
        reopen(published, staff["desk"])


def test_it_records_the_reopening_as_a_stage_change_with_its_reason(client, published, staff):
    client.force_login(staff["editor"])
    response = client.post(
        reverse("admin:verify_case_reopen", args=[published.pk]), {"kind": "correction", "reason": CORRECTION}
    )
    assert response.status_code == 302
    event = CaseEvent.objects.filter(case=published, kind=CaseEvent.Kind.STAGE_CHANGED).last()
    assert (event.old, event.new, event.note) == (
        {"stage": "published"},
        {"stage": "in_review", "reopened_for": "correction"},
        CORRECTION,
    )
    assert event.actor == staff["editor"]


def test_it_keeps_showing_the_last_publication_while_reopened(client, published, staff):
    reopen(published, staff["editor"])
    services.update_case(case=Case.objects.get(pk=published.pk), by=staff["desk"], changes={"claim": EDITED_CLAIM})
    html = public_page(client, published)
    assert PUBLISHED_CLAIM in html and EDITED_CLAIM not in html
    assert "Corrected on" not in html


def test_it_publishes_a_correction_end_to_end(client, published, staff, second_editor):
    first = Publication.objects.get(case=published)
    client.force_login(staff["editor"])
    client.post(reverse("admin:verify_case_reopen", args=[published.pk]), {"kind": "correction", "reason": CORRECTION})
    services.update_case(case=Case.objects.get(pk=published.pk), by=staff["desk"], changes={"claim": CORRECTED_CLAIM})
    propose(
        staff, Case.objects.get(pk=published.pk), summary="Filmed in Donetsk oblast.", rationale="y", rating="false"
    )
    case = Case.objects.get(pk=published.pk)
    assert case.stage == Stage.AWAITING_APPROVAL
    assert "Corrected on" not in public_page(client, published)  # not approved yet: the first publication shows
    services.approve_verdict(case=case, by=second_editor)

    second = Publication.objects.get(case=published, number=2)
    assert (second.kind, second.reason, second.approved_by) == ("correction", CORRECTION, second_editor)
    html = public_page(client, published)
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert f"Corrected on {timezone.localtime(second.approved_at):%-d %b %Y} : {CORRECTION}" in text
    assert CORRECTED_CLAIM in html
    earlier = html[html.index("Earlier versions") :]
    assert "Misleading / miscaptioned" in earlier
    assert f"{timezone.localtime(first.approved_at):%-d %b %Y}" in earlier
    jsonld = embedded_jsonld(html)
    assert jsonld["datePublished"] == first.document["claim_review"]["datePublished"]
    assert jsonld["dateModified"] == second.approved_at.replace(microsecond=0).isoformat()
    assert jsonld["correction"] == [
        {"@type": "CorrectionComment", "text": CORRECTION, "datePublished": jsonld["dateModified"]}
    ]
    assert jsonld["reviewRating"]["alternateName"] == "False"


def test_it_says_updated_for_an_update_and_carries_no_correction_note(client, published, staff, second_editor):
    reopen(published, staff["editor"], kind="update", reason="A second video of the same drill surfaced.")
    republish(staff, published, second_editor)
    html = public_page(client, published)
    assert "Updated on" in html and "A second video of the same drill surfaced." in html
    jsonld = embedded_jsonld(html)
    assert "dateModified" in jsonld and "correction" not in jsonld


def test_it_sends_a_verdict_back_when_a_file_arrives_while_it_awaits_approval(awaiting_approval, staff, tasks_not_sent):
    intake.ingest_stream(
        case=Case.objects.get(pk=awaiting_approval.pk),
        source=io.BytesIO(jpeg_bytes(seed=7)),
        original_name="late-arrival.jpg",
        by=staff["desk"],
        origin="upload",
    )
    case = Case.objects.get(pk=awaiting_approval.pk)
    assert case.stage == Stage.COLLECTING
    verdict = case.verdicts.get()
    note = "A file was added after this verdict was proposed: late-arrival.jpg"
    assert (verdict.status, verdict.review_note, verdict.reviewed_by) == (Verdict.Status.SENT_BACK, note, None)
    sent_back = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.VERDICT_SENT_BACK)
    assert (sent_back.actor, sent_back.note) == (None, note)
    with pytest.raises(WorkflowError, match="no proposed verdict to approve"):
        services.approve_verdict(case=case, by=staff["editor"])


def test_it_refuses_to_approve_a_verdict_over_a_file_added_after_it(awaiting_approval, staff):
    add_media(awaiting_approval, name="slipped-in.mp4")
    with pytest.raises(ConditionNotMet, match="proposed before these files were added: slipped-in.mp4"):
        services.approve_verdict(case=Case.objects.get(pk=awaiting_approval.pk), by=staff["editor"])
    assert not Publication.objects.filter(case=awaiting_approval).exists()


# The migration executor needs a database outside a test transaction (SQLite's schema editor insists).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_snapshots_cases_published_before_publications_existed(published, staff):
    executor = MigrationExecutor(connection)
    executor.migrate([("verify", "0014_publication")])
    Publication.objects.all().delete()
    Case.objects.filter(pk=published.pk).update(claim=EDITED_CLAIM)  # what the legacy case says by then
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    publication = Publication.objects.get(case=published)
    verdict = published.verdicts.get(status=Verdict.Status.APPROVED)
    assert (publication.number, publication.kind, publication.verdict, publication.approved_by) == (
        1,
        "first",
        verdict,
        staff["editor"],
    )
    assert publication.document["public"]["claim"] == EDITED_CLAIM
    assert publication.document["claim_review"]["reviewRating"]["alternateName"] == "Misleading / miscaptioned"
    assert publication.document["report"]["verdict"]["approved_by"] == "Ebba Thorvaldsen"


def test_it_snapshots_the_published_seed_cases(db):
    from verify.seeds import load_seeds

    load_seeds()
    Publication.objects.all().delete()
    migration = import_module("verify.migrations.0015_snapshot_published_cases")
    migration.snapshot_published(live_apps, None)
    cases = Case.objects.filter(stage=Stage.PUBLISHED)
    assert cases.count() == 2
    assert sorted(Publication.objects.values_list("case__seed_key", flat=True)) == sorted(
        cases.values_list("seed_key", flat=True)
    )


def test_it_offers_editors_the_reopening_and_lets_the_record_change_once_reopened(client, published, staff):
    client.force_login(staff["editor"])
    page = client.get(reverse("admin:verify_case_change", args=[published.pk]))
    assert (
        "Reopen for a correction or update",
        reverse("admin:verify_case_reopen", args=[published.pk]),
    ) in page.context["work_links"]
    reopen(published, staff["editor"])
    case = Case.objects.get(pk=published.pk)
    services.add_sighting(case=case, by=staff["desk"], url="https://x.example/late", platform="x")
    services.answer_checklist_item(item=case.checklist.first(), by=staff["editor"], status="unknown")
    services.update_case(case=case, by=staff["desk"], changes={"claim": CORRECTED_CLAIM})
    assert Case.objects.get(pk=published.pk).claim == CORRECTED_CLAIM
