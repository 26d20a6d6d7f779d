"""Reads that more than one caller needs, shaped so their cost does not grow with rows."""

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from verify.models import Assignment, Case, Extraction
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


def case_media_panel(case: Case) -> dict:
    """Each of the case's media items with its extractions, and the pipeline's progress, in two queries."""
    links = list(
        case.case_media.select_related("media_item", "added_by")
        .prefetch_related(Prefetch("media_item__extractions", queryset=Extraction.objects.order_by("extractor")))
        .order_by("added_at")
    )
    items, total, finished = [], 0, 0
    for link in links:
        extractions = {e.extractor: e for e in link.media_item.extractions.all()}
        total += len(extractions)
        finished += sum(e.is_finished for e in extractions.values())
        items.append({"link": link, "item": link.media_item, "extractions": extractions})
    return {"items": items, "total": total, "finished": finished, "pending": total - finished}
