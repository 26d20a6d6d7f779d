"""Verdict reports, one module per format (csv, json, pdf, claimreview), all built from `data.case_report`."""

from __future__ import annotations

from django.conf import settings

from verify.models import Case
from verify.selectors import report_cases
from verify.workflow import Stage


class ReportError(Exception):
    """A report that cannot be made; the message says why and is shown to the user as it is."""


class NotPublished(ReportError):
    """The case has no published verdict, so nothing about it may go public."""


class NoVerdict(ReportError):
    """The case has no verdict yet, so there is no verdict report to make."""


def organisation() -> dict:
    """The desk's organisation, the public author of every verdict (never a desk member's name)."""
    name = getattr(settings, "ORGANISATION_NAME", "Verify Desk")
    url = getattr(settings, "ORGANISATION_URL", "") or settings.SITE_URL
    return {"@type": "Organization", "name": name, "url": url}


def load_report_case(case_id: int) -> Case | None:
    """One case with everything a report shows, or None."""
    return report_cases(Case.objects.filter(pk=case_id)).first()


def check_published(case: Case) -> None:
    if case.stage != Stage.PUBLISHED:
        raise NotPublished(
            f"Case #{case.pk} is {Stage(case.stage).label}, not published; only a published verdict may be made public"
        )
