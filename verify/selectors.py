"""Reads that more than one caller needs, shaped so their cost does not grow with rows."""

from django.contrib.auth import get_user_model
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from verify.models import (
    Assignment,
    Case,
    CaseEvent,
    CaseMedia,
    ChecklistItem,
    Extraction,
    Flag,
    LinkDownload,
    MediaRating,
    Sighting,
    Verdict,
)
from verify.workflow import OPEN_STAGES, REVIEWER, Stage


def media_count() -> Coalesce:
    """Each case's number of files, as a correlated subquery: no join or GROUP BY on the case query."""
    count = CaseMedia.objects.filter(case=OuterRef("pk")).order_by().values("case").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


def case_list(queryset: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Cases with what a list row shows (assignees, tags, media count) fetched up front."""
    queryset = Case.objects.all() if queryset is None else queryset
    # A subquery per row rather than a join and GROUP BY: the admin's count of the list and its
    # tag filter's lookups then read the case table alone (bench/web_load.py).
    return queryset.annotate(media_count=media_count()).prefetch_related(
        Prefetch("assignments", queryset=Assignment.objects.select_related("user")),
        "tags",
    )


def active_reviewers() -> QuerySet:
    """The people who can be assigned to cases: active reviewers, and superusers, who hold every role."""
    return get_user_model().objects.filter(Q(groups__name=REVIEWER) | Q(is_superuser=True), is_active=True).distinct()


def overdue_cases(now=None) -> QuerySet[Case]:
    """Open cases whose deadline has passed, most urgent first."""
    now = now or timezone.now()
    return Case.objects.filter(stage__in=OPEN_STAGES, deadline__lt=now).order_by("-priority", "deadline")


def case_media_panel(case: Case) -> dict:
    """Each of the case's files with its readings' outcomes, and the pipeline's progress, in three queries.

    A case can hold hundreds of files with five readings each: each reading comes as its status
    alone (`statuses`, by reader), and of the results only the perceptual reader's (`previews`,
    the thumbnails and keyframes it made); a file's details read the rest when it is opened."""
    links = list(case.case_media.select_related("media_item").defer("media_item__disagreements").order_by("added_at"))
    statuses: dict[int, dict[str, str]] = {}
    for item_id, extractor, status in (
        Extraction.objects.filter(media_item__cases=case)
        .order_by("extractor")
        .values_list("media_item_id", "extractor", "status")
    ):
        statuses.setdefault(item_id, {})[extractor] = status
    previews = dict(
        Extraction.objects.filter(
            media_item__cases=case, extractor="perceptual", status=Extraction.Status.OK
        ).values_list("media_item_id", "result")
    )
    items, total, finished = [], 0, 0
    for link in links:
        readings = statuses.get(link.media_item_id, {})
        total += len(readings)
        finished += sum(status not in Extraction.UNFINISHED for status in readings.values())
        items.append(
            {"link": link, "item": link.media_item, "statuses": readings, "previews": previews.get(link.media_item_id)}
        )
    return {"items": items, "total": total, "finished": finished, "pending": total - finished}


def case_link_downloads(case: Case, limit: int = 20) -> list[LinkDownload]:
    """The case's latest link downloads, newest first, with who asked and what they became."""
    return list(
        case.link_downloads.select_related("requested_by", "media_item").order_by("-requested_at", "-pk")[:limit]
    )


def case_captures(case: Case, limit: int = 20) -> list:
    """The case's latest post captures, newest first, with the files each kept."""
    return list(
        case.captures.select_related("requested_by", "sighting", "screenshot", "pdf", "archive")
        .prefetch_related("media_items")
        .order_by("-requested_at", "-pk")[:limit]
    )


def media_item_cases(item) -> list[CaseMedia]:
    """Every case a file is in, oldest link first, with the case's newest verdict as `verdicts_newest_first`."""
    verdicts = Prefetch("case__verdicts", queryset=Verdict.objects.order_by("-number"), to_attr="verdicts_newest_first")
    return list(
        item.case_links.select_related("case", "added_by").prefetch_related(verdicts).order_by("added_at", "pk")
    )


def media_item_sightings(item) -> list[Sighting]:
    """Where a file was seen, earliest post first, with the case each sighting belongs to."""
    return list(item.sightings.select_related("case", "added_by"))


def report_cases(queryset: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Cases with everything a verdict report shows, fetched in a fixed number of queries.

    Iterate with `.iterator(chunk_size=...)` for large exports: the prefetches then run per
    chunk, so memory stays flat however many cases there are.
    """
    queryset = Case.objects.all() if queryset is None else queryset
    media = CaseMedia.objects.select_related("media_item").prefetch_related(
        Prefetch("media_item__extractions", queryset=Extraction.objects.order_by("extractor"))
    )
    verdicts = Verdict.objects.select_related("author", "reviewed_by").prefetch_related(
        Prefetch("media_ratings", queryset=MediaRating.objects.select_related("media_item"))
    )
    return queryset.select_related("created_by", "duplicate_of").prefetch_related(
        "tags",
        Prefetch("sightings", queryset=Sighting.objects.select_related("media_item")),
        Prefetch("case_media", queryset=media.order_by("added_at", "pk")),
        Prefetch("checklist", queryset=ChecklistItem.objects.select_related("updated_by")),
        Prefetch("verdicts", queryset=verdicts.order_by("-number")),
        Prefetch("assignments", queryset=Assignment.objects.select_related("user")),
        Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "media_item").order_by("at", "pk")),
        # All of the case's flags in one query; the report sorts them out per file.
        Prefetch("flags", queryset=Flag.objects.order_by("kind", "pk")),
        # A published case's reports come from its last publication.
        "publications",
    )


def csv_cases(queryset: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Cases with what a CSV row shows (reports/csv.py), in a fixed number of queries per chunk.

    The relations land in plain lists (`row_tags`, `row_sightings`, `row_verdicts`,
    `row_publications`): Django then skips building a related manager per case and relation,
    which was most of an export's time."""
    queryset = Case.objects.all() if queryset is None else queryset
    return queryset.annotate(media_count=media_count()).prefetch_related(
        Prefetch("tags", to_attr="row_tags"),
        Prefetch("sightings", queryset=Sighting.objects.only("case_id", "posted_at", "role"), to_attr="row_sightings"),
        Prefetch(
            "verdicts",
            queryset=Verdict.objects.select_related("reviewed_by").order_by("-number"),
            to_attr="row_verdicts",
        ),
        Prefetch("publications", to_attr="row_publications"),
    )


def reviewer_queue(user) -> QuerySet[Case]:
    """A reviewer's open cases, the nearest deadline first (cases without one last)."""
    return case_list(
        Case.objects.filter(assignments__user=user, stage__in=OPEN_STAGES).order_by(
            F("deadline").asc(nulls_last=True), "-priority", "created_at"
        )
    )


def awaiting_approval_for(user) -> QuerySet[Case]:
    """Cases whose proposed verdict `user` may approve (one they did not write), the longest waiting first.

    Each case carries its proposed verdict, with its author, as `proposed_verdicts` (one item)."""
    proposed = Verdict.objects.filter(status=Verdict.Status.PROPOSED)
    waiting_since = proposed.filter(case=OuterRef("pk")).order_by("-number").values("proposed_at")[:1]
    return (
        case_list(Case.objects.filter(stage=Stage.AWAITING_APPROVAL))
        .exclude(pk__in=proposed.filter(author=user).values("case"))
        .annotate(waiting_since=Subquery(waiting_since))
        .order_by(F("waiting_since").asc(nulls_last=True), "pk")
        .prefetch_related(Prefetch("verdicts", queryset=proposed.select_related("author"), to_attr="proposed_verdicts"))
    )
