"""PDF of one case's verdict, rendered by WeasyPrint from templates/reports/verdict.html, offline.

WeasyPrint may read only files under MEDIA_ROOT (thumbnails) and the static folders; any other
URL, and every network URL, is refused, so hostile links in a case cannot make the desk fetch them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from PIL import ImageFile

from verify import bidi
from verify.models import Case, CaseEvent, MediaItem, MediaReviewCategory
from verify.pipeline import artifacts_dir
from verify.reports import NoVerdict, organisation
from verify.reports.data import case_report
from verify.workflow import Stage

_pillow_reads_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
from weasyprint import HTML  # noqa: E402 - must follow the line above
from weasyprint.urls import URLFetcher  # noqa: E402

# Importing WeasyPrint tells Pillow, for the whole process, to accept truncated images.
# The extractors depend on Pillow refusing them to report a cut-off file, so put it back.
ImageFile.LOAD_TRUNCATED_IMAGES = _pillow_reads_truncated

TEMPLATE = "reports/verdict.html"
VERDICT_EVENTS = (CaseEvent.Kind.VERDICT_PROPOSED, CaseEvent.Kind.VERDICT_APPROVED, CaseEvent.Kind.VERDICT_SENT_BACK)


class LocalFilesOnly(URLFetcher):
    """A WeasyPrint URL fetcher that reads data: URIs and files under `roots`, and nothing else."""

    def __init__(self, roots: list[Path]):
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.roots = [Path(root).resolve() for root in roots]

    def allows(self, url: str) -> bool:
        if url.startswith("data:"):
            return True
        parts = urlsplit(url)
        # file://other-host/... would be a network share.
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return False
        path = Path(url2pathname(parts.path)).resolve()
        return any(path.is_relative_to(root) for root in self.roots)

    def fetch(self, url, headers=None):
        if not self.allows(url):
            raise ValueError(f"Verdict reports read only files under MEDIA_ROOT and the static folders; refused {url}")
        return super().fetch(url, headers)


def report_fetcher() -> LocalFilesOnly:
    roots = [settings.MEDIA_ROOT, settings.STATIC_ROOT, *_static_dirs()]
    return LocalFilesOnly([root for root in roots if root])


def _static_dirs() -> list[Path]:
    return [Path(entry[1] if isinstance(entry, tuple | list) else entry) for entry in settings.STATICFILES_DIRS]


def thumbnail(item: MediaItem) -> Path | None:
    """The perceptual extractor's thumbnail of a photo, or a video's first keyframe, if there is one."""
    folder = artifacts_dir(item, "perceptual")
    candidates = [folder / "thumb.jpg", *sorted(folder.glob("keyframe-*.jpg"))]
    media_root = Path(settings.MEDIA_ROOT).resolve()
    for path in candidates:
        if path.is_file() and path.resolve().is_relative_to(media_root):
            return path.resolve()
    return None


def _sensitivity(case: Case) -> list[str]:
    marks = [
        (case.is_graphic, "Graphic content"),
        (case.shows_personal_data, "Personal data visible"),
        (case.source_at_risk, "Source at risk"),
    ]
    return [label for marked, label in marks if marked]


def _when(iso: str | None, pattern: str = "%d %b %Y %H:%M UTC") -> str | None:
    """An ISO time from the report as a reader writes it, in UTC: "23 Nov 2026 17:06 UTC"."""
    if not iso:
        return iso
    return datetime.fromisoformat(iso).astimezone(UTC).strftime(pattern)


def _stage_label(code: str | None) -> str:
    return Stage(code).label if code in Stage.values else str(code)


def _category_label(code: str | None) -> str | None:
    return MediaReviewCategory(code).label if code in MediaReviewCategory.values else code


def _event_detail(event: CaseEvent) -> str:
    """What changed, in a few words, for the custody timeline."""
    old, new = event.old or {}, event.new or {}
    if event.kind == CaseEvent.Kind.STAGE_CHANGED:
        return f"{_stage_label(old.get('stage'))} → {_stage_label(new.get('stage'))}"
    if event.kind == CaseEvent.Kind.CHECKLIST_ANSWERED:
        return f"{old.get('question', '')}: {new.get('status', '')}"
    if event.kind in (CaseEvent.Kind.ASSIGNED, CaseEvent.Kind.UNASSIGNED):
        person = new or old
        return f"{person.get('user', '')} ({person.get('role', '')})"
    if event.kind in VERDICT_EVENTS:
        return f"v{new.get('version', '')}" + (f" {new['rating']}" if new.get("rating") else "")
    return ""


def _readable_times(report: dict) -> None:
    """Replace the report's ISO times with readable ones (the PDF is read, not parsed)."""
    for key in ("claimed_at", "opened_at", "first_seen"):
        report[key] = _when(report[key])
    for key in ("proposed_at", "approved_at"):
        report["verdict"][key] = _when(report["verdict"][key])
    for media in report["media"]:
        media["collected_at"] = _when(media["collected_at"])
    for sighting in report["sightings"]:
        sighting["posted_at"] = _when(sighting["posted_at"])
    for event in report["custody"]:
        event["at"] = _when(event["at"], "%d %b %Y %H:%M:%S UTC")


def verdict_context(case: Case) -> dict:
    """What the PDF shows: the case report, plus each file's thumbnail and the case's sensitivity marks."""
    report = case_report(case)
    if report["verdict"] is None:
        raise NoVerdict(f"Case #{case.pk} has no verdict yet; a verdict report needs at least a proposed verdict")
    # A published case's report is frozen: pair its files with today's by hash, and its custody
    # entries with the case's first events (events are append-only, so those are the same ones).
    items = {link.media_item.sha256: link.media_item for link in case.case_media.all()}
    for media in report["media"]:
        path = thumbnail(items[media["sha256"]]) if media["sha256"] in items else None
        media["thumbnail_url"] = path.as_uri() if path else None
        if media["rating"]:
            media["rating"]["category"] = _category_label(media["rating"]["category"])
    for entry, event in zip(report["custody"], case.events.all(), strict=False):
        entry["detail"] = _event_detail(event)
    report["verdict"]["media_category"] = _category_label(report["verdict"]["media_category"])
    _readable_times(report)
    # Every piece of text is isolated before the template sees it (verify.bidi).
    report = bidi.isolate_all(report)
    return {
        "report": report,
        "verdict": report["verdict"],
        "sensitivity": _sensitivity(case),
        "organisation": organisation(),
        "generated_at": timezone.now(),
    }


def render_html(case: Case) -> str:
    return render_to_string(TEMPLATE, verdict_context(case))


def render_pdf(case: Case) -> bytes:
    """The verdict report of `case` (loaded by `selectors.report_cases`) as PDF bytes; raises NoVerdict."""
    return HTML(string=render_html(case), url_fetcher=report_fetcher()).write_pdf()
