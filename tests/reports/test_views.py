"""The report responses the admin wires: refusals come as ReportError, files as downloads."""

import json

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from verify.models import Case
from verify.reports import NotPublished, ReportError
from verify.reports.views import export_response, jsonld_response, pdf_response


@pytest.mark.parametrize(("fmt", "content_type"), [("csv", "text/csv"), ("json", "application/json")])
def test_it_exports_the_filtered_cases_as_a_streamed_download(published, fmt, content_type):
    response = export_response(Case.objects.filter(pk=published.pk), fmt)
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"].endswith(f'.{fmt}"')


def test_it_refuses_an_unknown_format(published):
    with pytest.raises(ReportError, match="Unknown export format 'xlsx'; a set of cases exports as: csv, json"):
        export_response(Case.objects.all(), "xlsx")


def test_it_refuses_an_empty_filter(db):
    with pytest.raises(ReportError, match="No cases match the current filter; nothing was exported"):
        export_response(Case.objects.none(), "csv")


def test_it_answers_the_pdf_of_a_case(published):
    response = pdf_response(Case.objects.get(pk=published.pk))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="case-{published.pk}-verdict.pdf"'
    assert response.content.startswith(b"%PDF")


def test_it_answers_the_json_ld_of_a_published_case(published):
    response = jsonld_response(Case.objects.get(pk=published.pk))
    assert response["Content-Type"] == "application/ld+json; charset=utf-8"
    assert json.loads(response.content)["@type"] == "ClaimReview"


def test_it_refuses_the_json_ld_of_an_unpublished_case(awaiting_approval):
    with pytest.raises(NotPublished, match="is Awaiting approval, not published"):
        jsonld_response(awaiting_approval)


def test_it_sends_an_unknown_report_format_back_to_the_case_page_with_a_message(client, staff, published):
    client.force_login(staff["editor"])
    response = client.get(reverse("admin:verify_case_report", args=[published.pk, "docx"]), follow=True)
    assert response.redirect_chain == [(reverse("admin:verify_case_change", args=[published.pk]), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Unknown report format 'docx'; one case's report comes as: pdf, jsonld "
        "(CSV and JSON export a set of cases, from the case list)"
    ]
