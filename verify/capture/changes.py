"""A watched post against its previous capture: deleted or edited since, and the case flag each change raises.

A re-capture of a sighting is compared with the sighting's last finished capture. Each change is kept
as a short line on the capture (`CaptureJob.changes`, also in its post_capture event) and as a `Flag`
on the case for a reviewer to weigh. Both captures, with their files, stay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from verify.models import CaptureJob, Flag, storable_json

POST_DELETED = "post-deleted"
POST_EDITED = "post-edited"
# The flag kinds this module writes; the flags module's recomputation never touches them.
KINDS = frozenset({POST_DELETED, POST_EDITED})
GONE_STATUSES = (404, 410)


@dataclass(frozen=True)
class PostChange:
    """One way a post differs from its previous capture."""

    kind: str
    line: str  # for the capture's summary: "deleted between …", "caption changed"
    message: str  # the flag's sentence
    data: dict


def since_last_capture(job: CaptureJob) -> list[PostChange]:
    """How the post changed since its sighting's previous finished capture; empty for a first capture."""
    if job.sighting_id is None:
        return []
    previous = (
        CaptureJob.objects.filter(
            sighting_id=job.sighting_id, status=CaptureJob.Status.DONE, finished_at__lt=job.finished_at
        )
        .exclude(pk=job.pk)
        .order_by("-finished_at")
        .first()
    )
    if previous is None:
        return []
    both = {
        "url": job.url,
        "sighting": job.sighting_id,
        "previous_capture": previous.pk,
        "capture": job.pk,
        "between": [previous.finished_at.isoformat(), job.finished_at.isoformat()],
    }
    kept = f"captures #{previous.pk} and #{job.pk} are both kept"
    found = []
    if not looks_deleted(previous) and looks_deleted(job):
        line = f"deleted between {_when(previous.finished_at)} and {_when(job.finished_at)}"
        message = f"The post at {job.url} was {line}; {kept}."
        found.append(PostChange(POST_DELETED, line, message, both))
    before, now = (previous.facts.get("caption") or "").strip(), (job.facts.get("caption") or "").strip()
    if before and now and before != now:
        message = f"The post's caption changed between {_when(previous.finished_at)} and {_when(job.finished_at)}"
        message += f" (was: “{_clip(before)}”; now: “{_clip(now)}”); {kept}."
        data = both | {"changed": "caption", "before": before, "after": now}
        found.append(PostChange(POST_EDITED, "caption changed", message, data))
    old_media = set(previous.steps.get("media", {}).get("sha256") or [])
    new_media = set(job.steps.get("media", {}).get("sha256") or [])
    if old_media and new_media and old_media != new_media:
        message = (
            f"The post's media changed between {_when(previous.finished_at)} and {_when(job.finished_at)}: "
            f"{len(old_media - new_media)} item(s) gone, {len(new_media - old_media)} new; {kept}."
        )
        data = both | {"changed": "media", "before": sorted(old_media), "after": sorted(new_media)}
        found.append(PostChange(POST_EDITED, "media changed", message, data))
    return found


def raise_flags(job: CaptureJob, changes: list[PostChange]) -> list[Flag]:
    """A case flag for each change, on the post rather than one file (the earlier files are still the post's)."""
    now = timezone.now()
    return Flag.objects.bulk_create(
        Flag(
            case_id=job.case_id,
            media_item=None,
            kind=change.kind,
            severity=Flag.Severity.MEDIUM,
            message=storable_json(change.message),
            data=storable_json(change.data),
            computed_at=now,
        )
        for change in changes
    )


def looks_deleted(job: CaptureJob) -> bool:
    if job.facts.get("page_status") in GONE_STATUSES:
        return True
    return any(step.get("reason", "").startswith("deleted or removed") for step in job.steps.values())


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment, dt.UTC).strftime("%-d %b %Y %H:%M UTC")


def _clip(text: str, length: int = 120) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
