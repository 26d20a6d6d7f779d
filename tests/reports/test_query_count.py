"""The report selector's cost does not grow with the number of cases."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.reports.conftest import bulk_published_cases
from verify.models import Case
from verify.reports.data import case_report
from verify.selectors import report_cases


def queries_for_reports(ids: list[int]) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        reports = [case_report(case) for case in report_cases(Case.objects.filter(pk__in=ids))]
    return len(captured.captured_queries), len(reports)


def test_it_gathers_1_and_1000_case_reports_in_the_same_number_of_queries(staff):
    ids = bulk_published_cases(1000, author=staff["reviewer"], approver=staff["editor"])
    one, one_count = queries_for_reports(ids[:1])
    thousand, thousand_count = queries_for_reports(ids)
    assert (one_count, thousand_count) == (1, 1000)
    assert one == thousand
