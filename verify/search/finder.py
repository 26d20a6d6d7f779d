"""The desk search: what a term finds among cases, files and sightings, each group in a fixed number of queries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower

from verify.models import Case, CaseMedia, ChecklistItem, MediaItem, Sighting, Verdict
from verify.search.normalise import (
    MIN_HASH_PREFIX,
    hash_prefix,
    looks_like_url,
    normalise_account,
    normalise_url,
    prefix_upper_bound,
    url_key,
)

MIN_LENGTH = 3
MAX_LENGTH = 2000
# Each group shows at most this many rows; the page says when there are more.
GROUP_LIMIT = 50
CASE_NUMBER = re.compile(r"#?(\d{1,9})")


class SearchTermError(ValueError):
    """A term the search cannot use; the message says why and what to type instead."""


@dataclass(frozen=True)
class SearchTerm:
    """A term as typed, and the shapes it can take: words, a SHA-256 prefix, a link, an account, a case number."""

    text: str
    sha256_prefix: str | None = None
    url: str = ""
    url_key: str = ""
    account: str = ""
    case_number: int | None = None

    @classmethod
    def parse(cls, raw: str) -> SearchTerm:
        text = " ".join(raw.split())
        number = CASE_NUMBER.fullmatch(text)
        if len(text) < MIN_LENGTH and not number:
            raise SearchTermError(
                f"Type at least {MIN_LENGTH} characters to search (a SHA-256 needs at least "
                f"{MIN_HASH_PREFIX} hex digits; a case number can be given as #12)."
            )
        if len(text) > MAX_LENGTH:
            raise SearchTermError(
                f"The search is {len(text):,} characters long; keep it to {MAX_LENGTH:,} "
                "(a SHA-256, a file name, an account, a link or a few words)."
            )
        is_url = looks_like_url(text)
        return cls(
            text=text,
            sha256_prefix=hash_prefix(text),
            url=normalise_url(text) if is_url else "",
            url_key=url_key(text) if is_url else "",
            account="" if is_url or " " in text else normalise_account(text),
            case_number=int(number.group(1)) if number else None,
        )

    @property
    def is_only_a_hash(self) -> bool:
        """A whole SHA-256, or hex digits mixing figures and letters ('285fd6'), names files by hash alone:
        no title, caption or name is searched for it. A hex word ('facade') or number ('202403') is still
        searched as words too."""
        prefix = self.sha256_prefix
        if prefix is None:
            return False
        return len(prefix) == 64 or (any(c.isdigit() for c in prefix) and any(c.isalpha() for c in prefix))

    @property
    def words(self) -> str:
        """What a free-text field must contain: a link in its normalised spelling, anything else as typed."""
        return self.url or self.text


def files_matching(term: SearchTerm) -> QuerySet[MediaItem]:
    """Files whose SHA-256 starts with the term, or whose name contains it."""
    if not term.sha256_prefix:
        return MediaItem.objects.filter(original_name__icontains=term.text)
    # A range rather than LIKE 'prefix%': it uses the unique index on sha256 in any collation.
    by_hash = Q(sha256__gte=term.sha256_prefix, sha256__lt=prefix_upper_bound(term.sha256_prefix))
    if term.is_only_a_hash:
        return MediaItem.objects.filter(by_hash)
    return MediaItem.objects.filter(by_hash | Q(original_name__icontains=term.text))


def sightings_matching(term: SearchTerm) -> QuerySet[Sighting]:
    """Sightings with the same link (normalised), the same account, or the words in their link, account or caption."""
    if term.is_only_a_hash:
        return Sighting.objects.none()
    found = Q(url__icontains=term.words) | Q(caption__icontains=term.text) | Q(account__icontains=term.text)
    if term.url_key:
        found |= Q(url_key=term.url_key)
    if term.account:
        found |= Q(account_lower__in=[term.account, f"@{term.account}"])
    return Sighting.objects.alias(account_lower=Lower("account")).filter(found)


def case_filter(term: SearchTerm) -> Q:
    """The cases a term finds: by number, title, claim or checklist notes, or through their files and sightings.

    Subqueries rather than joins, so that a case matching many ways is listed once without DISTINCT.
    """
    files = CaseMedia.objects.filter(media_item__in=files_matching(term)).values("case_id")
    if term.is_only_a_hash:
        return Q(pk__in=files)
    # Title and claim in a subquery too: PostgreSQL then answers all of them from the trigram indexes
    # (migration 0020) and checks each case against hashed sets rather than reading every title.
    in_words = Case.objects.filter(Q(title__icontains=term.text) | Q(claim__icontains=term.text)).values("pk")
    found = (
        Q(pk__in=in_words)
        | Q(pk__in=ChecklistItem.objects.filter(notes__icontains=term.text).values("case_id"))
        | Q(pk__in=files)
        | Q(pk__in=sightings_matching(term).values("case_id"))
    )
    if term.case_number is not None:
        found |= Q(pk=term.case_number)
    return found


@dataclass
class Group:
    rows: list
    more: bool = False

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Results:
    term: SearchTerm
    cases: Group = field(default_factory=lambda: Group([]))
    files: Group = field(default_factory=lambda: Group([]))
    sightings: Group = field(default_factory=lambda: Group([]))

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.files) + len(self.sightings)


def _limited(queryset: QuerySet, limit: int) -> Group:
    rows = list(queryset[: limit + 1])
    return Group(rows[:limit], more=len(rows) > limit)


def _latest_verdicts() -> Prefetch:
    return Prefetch("verdicts", queryset=Verdict.objects.order_by("-number"), to_attr="verdicts_newest_first")


def search(term: SearchTerm, *, limit: int = GROUP_LIMIT) -> Results:
    """Cases, files and sightings the term finds, each group newest first and at most `limit` long."""
    cases = Case.objects.filter(case_filter(term)).prefetch_related(_latest_verdicts()).order_by("-created_at", "-pk")
    files = files_matching(term).prefetch_related(
        Prefetch("cases", queryset=Case.objects.order_by("pk").prefetch_related(_latest_verdicts()))
    )
    sightings = sightings_matching(term).select_related("case", "media_item").order_by("-added_at", "-pk")
    return Results(
        term=term,
        cases=_limited(cases, limit),
        files=_limited(files.order_by("-collected_at", "-pk"), limit),
        sightings=_limited(sightings, limit),
    )
