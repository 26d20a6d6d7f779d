"""Every report and export shows text with bidi controls isolated, and the stored text stays as it was."""

import csv
import io
import json
import subprocess

import pytest
from django.urls import reverse

from tests.bidi import (
    HOSTILE_CAPTION,
    HOSTILE_CLAIM,
    HOSTILE_NAME,
    HOSTILE_TITLE,
    RLO,
    html_unisolated,
    unisolated,
)
from tests.reports.conftest import REVIEW_NOTE, open_reviewed_case, propose
from verify import services
from verify.bidi import isolate
from verify.models import Case, MediaItem
from verify.reports import load_report_case
from verify.reports.claimreview import claim_review, dumps
from verify.reports.csv import excel_safe, stream_csv
from verify.reports.json import stream_json
from verify.reports.pdf import render_pdf

HOSTILE_SUMMARY = f"Old footage, {RLO}noitpac wen"
HOSTILE_PLACE = f"Kursk{RLO} oblast"


@pytest.fixture
def hostile(staff, media_root):
    """A published case whose title, claim, summary, place, file name and caption carry bidi controls.

    Everything is in place before approval: a published case is frozen.
    """
    case = open_reviewed_case(staff, claim=HOSTILE_CLAIM, title=HOSTILE_TITLE)
    case = services.update_case(case=case, by=staff["desk"], changes={"claimed_place": HOSTILE_PLACE})
    MediaItem.objects.filter(cases=case, kind=MediaItem.Kind.PHOTO).update(original_name=HOSTILE_NAME)
    services.add_sighting(
        case=case,
        by=staff["desk"],
        platform="x",
        account=HOSTILE_NAME,
        caption=HOSTILE_CAPTION,
        url="https://x.com/a/1",
    )
    propose(staff, case, summary=HOSTILE_SUMMARY, rationale="Reverse image search.", rating="misleading")
    case.refresh_from_db()
    services.approve_verdict(case=case, by=staff["editor"], note=REVIEW_NOTE)
    return load_report_case(case.pk)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def test_it_isolates_every_csv_cell(hostile):
    text = b"".join(stream_csv(Case.objects.filter(pk=hostile.pk))).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    cells = dict(zip(header, row, strict=True))
    assert cells["title"] == isolate(HOSTILE_TITLE)
    assert cells["claim"] == isolate(HOSTILE_CLAIM)
    assert cells["verdict summary"] == isolate(HOSTILE_SUMMARY)
    assert not [cell for cell in row if unisolated(cell)]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_it_still_guards_against_a_formula_behind_bidi_controls(prefix):
    formula = f'{RLO}{prefix}HYPERLINK("http://evil")'
    assert excel_safe(formula) == "'" + isolate(formula)
    assert excel_safe(formula[1:] + RLO) == "'" + isolate(formula[1:] + RLO)


def test_it_isolates_every_string_of_the_json_export_and_escapes_the_controls(hostile):
    raw = b"".join(stream_json(Case.objects.filter(pk=hostile.pk))).decode("utf-8")
    assert RLO not in raw and "\\u202e" in raw
    (report,) = json.loads(raw)["cases"]
    assert report["title"] == isolate(HOSTILE_TITLE)
    assert report["claimed_place"] == isolate(HOSTILE_PLACE)
    assert [s["caption"] for s in report["sightings"] if s["caption"]][-1] == isolate(HOSTILE_CAPTION)
    assert isolate(HOSTILE_NAME) in [m["original_name"] for m in report["media"]]
    assert not [text for text in strings(report) if unisolated(text)]


def test_it_isolates_every_string_of_the_json_ld_and_escapes_the_controls(hostile):
    raw = dumps(claim_review(hostile), indent=2)
    assert RLO not in raw
    document = json.loads(raw)
    assert (document["name"], document["claimReviewed"], document["reviewBody"]) == (
        isolate(HOSTILE_TITLE),
        isolate(HOSTILE_CLAIM),
        isolate(HOSTILE_SUMMARY),
    )
    assert not [text for text in strings(document) if unisolated(text)]


def test_it_keeps_the_stored_text_as_it_was_received(hostile):
    case = Case.objects.get(pk=hostile.pk)
    assert (case.title, case.claim, case.claimed_place) == (HOSTILE_TITLE, HOSTILE_CLAIM, HOSTILE_PLACE)
    assert case.sightings.filter(caption=HOSTILE_CAPTION).exists()


def pdf_lines(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.splitlines()


def test_it_keeps_an_open_override_in_the_pdf_from_turning_the_rest_of_its_line_around(hostile, tmp_path):
    lines = pdf_lines(render_pdf(hostile), tmp_path)
    # The place is followed by its coordinates on one line; unisolated they came out ")00091.63 ,00037.15( tsalbo".
    (place,) = [line for line in lines if line.startswith("Place ")]
    assert place.endswith("(51.73000, 36.19000)")
    assert "abcjpg.exe" in lines
    assert not [line for line in lines if ")00091.63" in line]


def test_it_isolates_every_text_of_the_public_page(client, hostile):
    html = client.get(reverse("public-verdict", args=[hostile.pk])).content.decode()
    assert f'<h1 dir="auto">{isolate(HOSTILE_TITLE)}</h1>' in html
    assert RLO in html
    assert html_unisolated(html) == []
