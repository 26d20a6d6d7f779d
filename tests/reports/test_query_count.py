"""The report selector's cost does not grow with the number of cases."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.reports.conftest import bulk_published_cases
from verify.models import Case
from verify.reports.data import case_report
from verify.selectors import report_cases


def queries_for_reports(ids: list[int]) -> tuple[int, list[dict]]:
    with CaptureQueriesContext(connection) as captured:
        reports = [case_report(case) for case in report_cases(Case.objects.filter(pk__in=ids))]
    return len(captured.captured_queries), reports


def test_it_gathers_1_and_1000_case_reports_in_the_same_number_of_queries(staff):
    ids = bulk_published_cases(1000, author=staff["reviewer"], approver=staff["editor"])
    one, one_reports = queries_for_reports(ids[:1])
    thousand, thousand_reports = queries_for_reports(ids)
    assert (len(one_reports), len(thousand_reports)) == (1, 1000)
    assert one == thousand


def test_it_gathers_each_cases_flags_with_the_rest(staff):
    """Flags, per file and for the claim, come from the same fixed set of queries."""
    ids = bulk_published_cases(50, author=staff["reviewer"], approver=staff["editor"])
    _, reports = queries_for_reports(ids)
    assert {len(r["flags"]) for r in reports} == {1}
    assert {r["media"][0]["flags"][0]["message"] for r in reports} == {"No camera metadata."}
