"""JSON export: the documented, versioned schema, written incrementally."""

import inspect
import json
import re
from datetime import datetime
from pathlib import Path

from verify.models import Case, Flag
from verify.reports.data import REPORT_SCHEMA_VERSION
from verify.reports.json import SCHEMA_NAME, stream_json

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"


def export(queryset) -> dict:
    return json.loads(b"".join(stream_json(queryset)))


def test_it_names_the_schema_and_its_version(published):
    document = export(Case.objects.filter(pk=published.pk))
    assert (document["schema"], document["version"]) == (SCHEMA_NAME, REPORT_SCHEMA_VERSION)
    assert datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    assert [case["id"] for case in document["cases"]] == [published.pk]


def test_it_exports_each_case_with_its_verdict_media_and_custody(published):
    (case,) = export(Case.objects.filter(pk=published.pk))["cases"]
    assert case["verdict"]["rating"] == "misleading"
    assert case["verdict"]["status"] == "approved"
    assert len(case["media"]) == 2 and len(case["media"][0]["sha256"]) == 64
    assert case["media"][0]["rating"]["category"] == "DecontextualizedContent"
    assert [e["event"] for e in case["custody"]][0] == "Case opened"


def test_it_exports_flags_per_file_and_for_the_claim(awaiting_approval):
    # Not yet published: a published case's report is frozen, and a flag added now would not reach it.
    case_id = awaiting_approval.pk
    Flag.objects.create(case_id=case_id, kind="first-seen-before-claim", severity="medium", message="Posted earlier.")
    (case,) = export(Case.objects.filter(pk=case_id))["cases"]
    assert case["flags"] == [{"kind": "first-seen-before-claim", "severity": "medium", "message": "Posted earlier."}]
    photo, video = case["media"]
    assert [(f["kind"], f["severity"]) for f in photo["flags"]] == [("c2pa", "high"), ("metadata-stripped", "low")]
    assert video["flags"] == []


def test_it_exports_a_flag_the_verdict_rests_on_with_its_label(resting_on_a_flag):
    case, flag = resting_on_a_flag
    (exported,) = export(Case.objects.filter(pk=case.pk))["cases"]
    (entry,) = exported["verdict"]["evidence"]
    assert (entry["kind"], entry["id"]) == ("flag", flag.pk)
    assert entry["label"] == f"High: {flag.message} (IMG_PRIVATE_0001.jpg)"


def test_it_writes_a_valid_document_for_several_cases(make_published):
    first, second = make_published(), make_published(title="Second")
    document = export(Case.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk"))
    assert [case["id"] for case in document["cases"]] == [first.pk, second.pk]


def test_it_writes_the_document_piece_by_piece(published):
    chunks = stream_json(Case.objects.filter(pk=published.pk))
    assert inspect.isgenerator(chunks)
    assert next(chunks).startswith(b'{"schema": "verify-desk/case-report"')


def test_it_documents_every_field_of_the_schema(published):
    """Every key a report can contain is named in docs/report-schema.md."""
    docs = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z0-9_]+)`", docs))
    (case,) = export(Case.objects.filter(pk=published.pk))["cases"]
    keys = set(case) | set(case["verdict"]) | set(case["media"][0]) | set(case["media"][0]["rating"])
    keys |= set(case["media"][0]["c2pa"]) | set(case["checklist"][0]) | set(case["sightings"][0])
    keys |= set(case["custody"][0]) | set(case["claimed_location"]) | {"schema", "version", "generated_at", "cases"}
    keys |= set(case["media"][0]["flags"][0]) | set(case["publication"])
    assert keys - documented == set()
    assert f"`{REPORT_SCHEMA_VERSION}`" in docs
