"""Reads that more than one caller needs, shaped so their cost does not grow with rows."""

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from verify.models import Assignment, Case
from verify.workflow import OPEN_STAGES


def case_list(queryset: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Cases with what a list row shows (assignees, tags, media count) fetched up front."""
    queryset = Case.objects.all() if queryset is None else queryset
    return queryset.annotate(media_count=Count("case_media", distinct=True)).prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("user")),
        "tags",
    )


def overdue_cases(now=None) -> QuerySet[Case]:
    """Open cases whose deadline has passed, most urgent first."""
    now = now or timezone.now()
    return Case.objects.filter(stage__in=OPEN_STAGES, deadline__lt=now).order_by("-priority", "deadline")
