"""CSV export: Excel-safe cells, one row per case, streamed from the report selector."""

import csv
import inspect
import io

import pytest
from django.http import StreamingHttpResponse

from verify.models import Case
from verify.reports.csv import HEADER, csv_response, excel_safe, stream_csv


def parse(chunks) -> list[list[str]]:
    text = b"".join(chunks).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_it_prefixes_text_that_would_start_a_formula_with_an_apostrophe(prefix):
    assert excel_safe(f'{prefix}HYPERLINK("http://evil")') == f'\'{prefix}HYPERLINK("http://evil")'


@pytest.mark.parametrize("number", [0, 42, -5, 3.25, -0.5])
def test_it_keeps_numbers_as_numbers(number):
    assert excel_safe(number) == number
    assert type(excel_safe(number)) is type(number)


@pytest.mark.parametrize("text", ["Kursk", "2024-11-02T09:00:00+00:00", "5 soldiers", "", "a=b"])
def test_it_leaves_text_that_cannot_start_a_formula_alone(text):
    assert excel_safe(text) == text


def test_it_writes_empty_cells_for_missing_values():
    assert excel_safe(None) == ""


def test_it_writes_one_row_per_case_with_its_verdict(published):
    header, row = parse(stream_csv(Case.objects.filter(pk=published.pk)))
    assert header == HEADER
    cells = dict(zip(header, row, strict=True))
    assert cells["id"] == str(published.pk)
    assert cells["verdict rating"] == "Misleading / miscaptioned"
    assert cells["tags"] == "kursk, video"
    assert (cells["media count"], cells["sighting count"]) == ("2", "2")
    assert cells["approved by"] == "Ebba Thorvaldsen"
    assert cells["public URL"].endswith(f"/verdicts/{published.pk}/")


def test_it_makes_hostile_text_in_a_case_safe_for_excel(make_published):
    case = make_published(title='=HYPERLINK("http://evil.example","x")', claim="+cmd|' /C calc'!A0")
    _, row = parse(stream_csv(Case.objects.filter(pk=case.pk)))
    assert row[1] == '\'=HYPERLINK("http://evil.example","x")'
    assert row[2] == "'+cmd|' /C calc'!A0"
    assert not [cell for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_it_streams_the_csv_response_with_a_byte_order_mark(published):
    response = csv_response(Case.objects.filter(pk=published.pk), "cases.csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cases.csv"'
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeffid,title".encode())
    assert len(parse([body])) == 2


def test_it_produces_the_csv_lazily_from_a_generator(published):
    lines = stream_csv(Case.objects.filter(pk=published.pk))
    assert inspect.isgenerator(lines)
    assert next(lines).decode().startswith("id,title,claim")


def test_it_writes_the_same_row_as_the_full_report_of_each_case(published, awaiting_approval, staff):
    from verify import services
    from verify.reports.csv import case_row
    from verify.reports.data import case_report
    from verify.selectors import report_cases

    bare = services.open_case(by=None, title="A bare case", claim="No files yet.")
    cases = Case.objects.filter(pk__in=[published.pk, awaiting_approval.pk, bare.pk]).order_by("pk")
    _, *rows = parse(stream_csv(cases))
    full = [[str(cell) for cell in case_row(case_report(case))] for case in report_cases(cases)]
    assert rows == full
