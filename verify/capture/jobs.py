"""Capture jobs: a post's link queued for the workers, captured step by step, each step's outcome recorded.

The steps are media (yt-dlp, or the guarded client for a link that serves a file: direct.py), facts
(yt-dlp's reading and the page's own tags), screenshot, PDF and archive (Chromium). Each ends ok,
unavailable or failed with a reason, and a failed step never stops the others. Every file kept goes
through intake like an upload; the facts fill a sighting (appearance) without overwriting what the
desk typed; a re-capture of a sighting compares with the one before (changes.py) and flags what changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from verify import intake, job_queue, outbound, services, workflow
from verify.capture import changes
from verify.capture.browser import PageOutcome, render_page
from verify.capture.direct import LinkedFile, fetch_linked_file
from verify.capture.media import MediaOutcome, fetch_media, platform_of
from verify.capture.proxy import ROUTES, GuardingProxy
from verify.intake import IntakeError
from verify.models import CaptureJob, Case, CaseEvent, MediaItem, PlatformCookies, Sighting
from verify.units import human_bytes
from verify.workflow import Stage, WorkflowError

log = logging.getLogger(__name__)
Status = CaptureJob.Status
STEPS = ("media", "facts", "screenshot", "pdf", "archive")
OK, UNAVAILABLE, FAILED = "ok", "unavailable", "failed"
PROGRESS_SECONDS = 1.0
MAX_ATTEMPTS = 3
# A capture no worker has finished after this long (every delivery lost, no worker running) is given up on.
GIVE_UP_AFTER = dt.timedelta(hours=1)
# The sighting fields the facts fill, and only where the desk left them blank.
FILLED = ("platform", "account", "posted_at", "caption")


class LostClaim(Exception):
    """Another delivery of the task has taken this capture over; this one stops and keeps nothing more."""


def queue_capture(*, case: Case, url: str, by, sighting: Sighting | None = None, trigger: str = "desk", send_now=True):
    """Record a post's link to capture for the case and send it to the workers once the transaction commits."""
    workflow.check_role(by, intake.INTAKE_ROLES, "capture posts")
    # A capture records its post as a sighting in the requester's name: refused here, not on the worker.
    workflow.check_adding_sighting(case=case, by=by)
    if case.stage in workflow.CLOSED_STAGES:
        raise IntakeError(f"Case #{case.pk} is {Stage(case.stage).label}; reopen it before capturing posts")
    url = check_link_shape(url)
    with transaction.atomic():
        job = CaptureJob.objects.create(case=case, url=url, requested_by=by, sighting=sighting, trigger=trigger)
        _record(job, by=by, note=f"Queued for capture ({job.get_trigger_display().lower()})")
        if send_now:
            transaction.on_commit(lambda: send(job.pk))
    return job


def check_link_shape(url: str) -> str:
    """The link, stripped, if it is an http(s) URL with a host; IntakeError in the desk's words otherwise."""
    text = (url or "").strip()
    parts = urllib.parse.urlsplit(text)
    if not parts.scheme or not parts.netloc:
        raise IntakeError(f"{text[:200]!r} is not a link to a post (it should start with https://)")
    if parts.scheme.lower() not in ("http", "https"):
        raise IntakeError(f"Only http:// and https:// links can be captured, not {parts.scheme}:")
    return text


def send(job_id: int) -> None:
    from workers.tasks import run_capture

    run_capture.delay(job_id)


@dataclass
class _Kept:
    """What a capture stored, for the job's row."""

    media: list[MediaItem] = field(default_factory=list)
    artifacts: dict = field(default_factory=dict)  # step -> MediaItem


def run_capture(job_id: int, on_progress: Callable[[str, int], None] | None = None) -> str | None:
    """Capture one queued post; every step gets an outcome, and the job one status."""
    job = _claim(job_id)
    if job is None:
        return None
    progress = _Progress(job, on_progress)
    steps: dict = {}
    kept = _Kept()
    try:
        _capture(job, steps, kept, progress)
    except LostClaim:
        log.warning("Capture %s was taken over by another delivery; this one stopped", job_id)
        return None
    except SoftTimeLimitExceeded:
        _fail_rest(steps, "the capture ran past the worker's time limit and was stopped")
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        log.exception("Capture %s failed unexpectedly", job_id)
        _fail_rest(steps, f"the capture hit an unexpected error ({type(exc).__name__}: {exc})")
    return _finish(job, steps, kept)


def _fail_rest(steps: dict, reason: str) -> None:
    for step in STEPS:
        steps.setdefault(step, {"outcome": FAILED, "reason": reason})


def _capture(job: CaptureJob, steps: dict, kept: _Kept, progress: _Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="verify-capture-") as folder, GuardingProxy(routes=ROUTES) as proxy:
        try:
            # The post's own address is checked first, as the proxy will check it: nothing starts if refused.
            parts = urllib.parse.urlsplit(job.url)
            proxy.destination(
                parts.scheme.lower(),
                parts.hostname or "",
                parts.port or (443 if parts.scheme.lower() == "https" else 80),
            )
        except outbound.Refused as exc:
            _fail_rest(steps, f"refused by the desk's rules: {exc}")
            return
        except (outbound.FetchFailed, ValueError) as exc:
            _fail_rest(steps, str(exc))
            return
        progress("asking the link what it serves", 0)
        try:
            linked = fetch_linked_file(
                job.url,
                case=job.case,
                by=job.requested_by,
                origin=f"capture #{job.pk} of {job.url}: the file the link serves",
                on_progress=lambda received, expected: progress(_bytes_line(received, expected), 3),
            )
        except outbound.Refused as exc:
            _fail_rest(steps, f"refused by the desk's rules: {exc}")
            return
        if linked is not None:
            _linked_file_steps(job, linked, steps, kept)
            return
        folder = Path(folder)
        cookies = _cookie_file(job.url, folder)
        progress("opening the page in the browser", 0)
        page = render_page(
            job.url,
            proxy_url=proxy.url,
            folder=_mkdir(folder / "page"),
            timeout=settings.CAPTURE_PAGE_SECONDS,
            slots=settings.CAPTURE_BROWSERS,
            cookie_file=cookies,
        )
        refusal = _refusal_of_post(proxy, job.url)
        _page_steps(job, page, refusal, steps, kept, progress)
        progress("downloading the post's media", 3)
        media = fetch_media(
            job.url,
            folder=_mkdir(folder / "media"),
            proxy_url=proxy.url,
            max_bytes=settings.MAX_UPLOAD_BYTES,
            timeout=settings.URL_DOWNLOAD_TIMEOUT,
            cookie_file=cookies,
            on_progress=lambda line: progress(line, 3),
        )
        refusal = refusal or _refusal_of_post(proxy, job.url)
        _media_step(job, media, refusal, steps, kept, progress)
        progress("recording the post's facts", 4)
        _facts_step(job, page, media, steps, kept)


def _bytes_line(received: int, expected: int | None) -> str:
    return f"media: {received:,} of {expected:,} bytes" if expected else f"media: {received:,} bytes"


def _linked_file_steps(job: CaptureJob, linked: LinkedFile, steps: dict, kept: _Kept) -> None:
    """The outcomes of a link that served a file: the file is the media, and there is no page to keep."""
    not_a_page = f"the link serves a file ({linked.content_type}), not a page: there is no page to keep"
    for step in ("screenshot", "pdf", "archive"):
        steps[step] = {"outcome": UNAVAILABLE, "reason": not_a_page}
    if linked.result is None:
        steps["media"] = {"outcome": FAILED, "reason": linked.failed}
        steps["facts"] = {"outcome": UNAVAILABLE, "reason": "a link to a file carries no account, time or caption"}
        return
    item = linked.result.media_item
    kept.media.append(item)
    steps["media"] = {
        "outcome": OK,
        "reason": f"1 item(s) stored: {item.original_name} ({human_bytes(item.size)}), fetched by the desk's "
        f"guarded client: {linked.result.outcome}",
        "sha256": [item.sha256],
    }
    job.facts = {
        "platform": platform_of("", job.url),
        "canonical_url": linked.final_url,
        "content_type": linked.content_type,
    }
    job.sighting = _fill_sighting(job, job.facts, kept)
    steps["facts"] = {
        "outcome": UNAVAILABLE,
        "reason": f"a link to a file carries no account, time or caption; sighting #{job.sighting.pk} records "
        "where the file was found",
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _refusal_of_post(proxy: GuardingProxy, url: str) -> str:
    """The proxy's reason if it refused the post's own address (not just something the page embeds)."""
    netloc = urllib.parse.urlsplit(url).netloc.lower()
    for refusal in proxy.refusals:
        if refusal.destination.lower() in (netloc, f"{netloc}:80", f"{netloc}:443"):
            return f"refused by the desk's rules: {refusal.reason}"
    return ""


def _page_steps(job, page: PageOutcome, refusal: str, steps: dict, kept: _Kept, progress) -> None:
    status_note = ""
    if page.status and page.status >= 400:
        status_note = f"; the page answered HTTP {page.status}, so this shows the site's own error or login page"
    notes = "".join(f"; {note}" for note in page.notes)
    for step, artifact in (("screenshot", page.screenshot), ("pdf", page.pdf), ("archive", page.archive)):
        if page.failed or refusal:
            steps[step] = {"outcome": FAILED, "reason": refusal or page.failed}
        elif page.status in (502, 504):
            # A gateway's error (the guarding proxy's, when the site stays silent) is not the post's page.
            steps[step] = {"outcome": FAILED, "reason": f"the site did not answer (HTTP {page.status})"}
        elif artifact is None:
            steps[step] = {"outcome": FAILED, "reason": page.problems.get(step, "the browser made no file")}
        else:
            progress(f"storing the {step}", 2)
            item, reason = _store(job, artifact.path, f"{step}-{artifact.name}", f"{step} of the page")
            if item is None:
                steps[step] = {"outcome": FAILED, "reason": reason}
            else:
                kept.artifacts[step] = item
                steps[step] = {"outcome": OK, "reason": reason + status_note + notes, "sha256": item.sha256}


def _media_step(job, media: MediaOutcome, refusal: str, steps: dict, kept: _Kept, progress) -> None:
    if refusal and not media.files:
        steps["media"] = {"outcome": FAILED, "reason": refusal}
        return
    if media.unavailable:
        steps["media"] = {"outcome": UNAVAILABLE, "reason": media.unavailable}
        return
    problems = list(media.problems)
    for number, file in enumerate(media.files, 1):
        progress(f"storing media item {number} of {len(media.files)}", 3)
        item, reason = _store(job, file.path, file.name, f"media item {file.item_id or number} of the post")
        if item is None:
            problems.append(f"{file.name}: {reason}")
        elif item not in kept.media:
            kept.media.append(item)
    if kept.media:
        kinds = ", ".join(f"{item.original_name} ({human_bytes(item.size)})" for item in kept.media)
        reason = f"{len(kept.media)} item(s) stored: {kinds}" + "".join(f"; {p}" for p in problems)
        steps["media"] = {"outcome": OK, "reason": reason, "sha256": [item.sha256 for item in kept.media]}
    else:
        steps["media"] = {"outcome": FAILED, "reason": media.failed or "; ".join(problems) or "nothing was stored"}


def _store(job: CaptureJob, path: Path, name: str, what: str) -> tuple[MediaItem | None, str]:
    """One captured file into intake, with custody naming the capture; (item, reason) or (None, why not)."""
    origin = f"capture #{job.pk} of {job.url}: {what}"
    try:
        with path.open("rb") as source:
            result = intake.ingest_stream(
                case=job.case, source=source, original_name=name, by=job.requested_by, origin=origin
            )
    except (IntakeError, WorkflowError) as exc:
        return None, str(exc)
    item = result.media_item
    # A PDF or an archive is "other" to the readers; kept all the same, which is what the desk needs to know.
    stored = result.outcome.replace(", unsupported kind", "")
    return item, f"{human_bytes(item.size)}, SHA-256 {item.sha256[:16]}…: {stored}"


def _facts_step(job: CaptureJob, page: PageOutcome, media: MediaOutcome, steps: dict, kept: _Kept) -> None:
    facts = merged_facts(page, media, job.url)
    job.facts = facts
    if not any(facts.get(name) for name in ("account", "caption", "posted_at", "title", "page_title")):
        if page.status in (404, 410):
            steps["facts"] = {
                "outcome": UNAVAILABLE,
                "reason": f"deleted or removed: the page answered HTTP {page.status}",
            }
        elif page.failed or page.status in (502, 504):
            steps["facts"] = {
                "outcome": FAILED,
                "reason": page.failed or f"the site did not answer (HTTP {page.status})",
            }
        else:
            steps["facts"] = {"outcome": UNAVAILABLE, "reason": "the page gives no details of the post"}
        return
    job.sighting = _fill_sighting(job, facts, kept)
    found = [name.replace("_", " ") for name in ("account", "posted_at", "caption", "views") if facts.get(name)]
    found = found or ["the page's title only"]
    steps["facts"] = {"outcome": OK, "reason": f"recorded in sighting #{job.sighting.pk}: " + ", ".join(found)}


def merged_facts(page: PageOutcome, media: MediaOutcome, url: str) -> dict:
    """yt-dlp's reading of the post first, then what the page's own tags say; the page keeps the time's zone."""
    from_page = page.facts if page and not page.failed else {}
    facts = {**{k: v for k, v in from_page.items() if k not in ("images", "videos")}, **media.facts}
    facts.setdefault("platform", platform_of("", url))
    if from_page.get("posted_text"):
        facts["posted_text"] = from_page["posted_text"]
        facts.setdefault("posted_at", from_page["posted_text"])
    if from_page.get("canonical_url"):
        facts["canonical_url"] = from_page["canonical_url"]  # what the page calls itself, over the link given
    if from_page.get("views") and not facts.get("views"):
        facts["views"] = from_page["views"]
    if page and page.status:
        facts["page_status"] = page.status
    return facts


def _sighting_fields(facts: dict) -> dict:
    account = facts.get("account") or ""
    if facts.get("account_id") and facts["account_id"] != account:
        account = f"{account} ({facts['account_id']})" if account else facts["account_id"]
    posted = parse_datetime(facts["posted_at"]) if facts.get("posted_at") else None
    return {
        "platform": facts.get("platform") or "other",
        "account": account[:200],
        "posted_at": posted if posted and timezone.is_aware(posted) else None,
        "caption": facts.get("caption") or "",
    }


def _fill_sighting(job: CaptureJob, facts: dict, kept: _Kept) -> Sighting:
    """The sighting the facts fill: the one re-captured, or a new one per item of the post.

    On a re-capture every sighting of the post (an album has one per item) is filled where the desk
    left it blank and linked to an item not yet linked; an item no sighting holds gets a new one.
    """
    fields = _sighting_fields(facts)
    if job.sighting is None:
        return _add_item_sightings(job, fields, kept.media)[0]
    current = Sighting.objects.get(pk=job.sighting.pk)
    post = [current, *_album_of(current)]
    linked = {sighting.media_item_id for sighting in post if sighting.media_item_id}
    unlinked = [item for item in kept.media if item.pk not in linked]
    for number, sighting in enumerate(post):
        updates, kept_by_desk = _blanks_filled(sighting, fields)
        if sighting.media_item_id is None and unlinked:
            updates["media_item"] = unlinked.pop(0)
        if number == 0 and kept_by_desk:
            job.facts["kept_from_sighting"] = kept_by_desk
        if updates:
            post[number] = services.update_sighting(sighting=sighting, by=job.requested_by, changes=updates)
    if unlinked:
        _add_item_sightings(job, fields, unlinked, url=current.url or job.url)
    return post[0]


def _add_item_sightings(job: CaptureJob, fields: dict, items: list, *, url: str = "") -> list[Sighting]:
    return [
        services.add_sighting(
            case=job.case,
            by=job.requested_by,
            role=Sighting.Role.APPEARANCE,
            url=url or job.url,
            media_item=item,
            **fields,
        )
        for item in items or [None]
    ]


def _album_of(sighting: Sighting) -> list[Sighting]:
    """The post's other sightings in the case: an album's items, each captured into its own sighting."""
    if not sighting.url:
        return []
    return list(
        Sighting.objects.filter(case_id=sighting.case_id, url=sighting.url, role=Sighting.Role.APPEARANCE)
        .exclude(pk=sighting.pk)
        .order_by("pk")
    )


def _blanks_filled(sighting: Sighting, fields: dict) -> tuple[dict, dict]:
    """(what the post fills where the sighting is blank, what the desk typed differently and is kept)."""
    updates, kept_by_desk = {}, {}
    for name, value in fields.items():
        present = getattr(sighting, name)
        if not value or present == value:
            continue
        if present in ("", None) or (name == "platform" and present == "other"):
            updates[name] = value
        else:
            kept_by_desk[name] = {"sighting": present, "post": value}
    return updates, kept_by_desk


def _claim(job_id: int) -> CaptureJob | None:
    """Mark the capture running for this delivery; None if it has an outcome or a live worker has it."""
    return job_queue.claim(
        CaptureJob,
        job_id,
        what="capture",
        stale_after=_stale_after(),
        max_attempts=MAX_ATTEMPTS,
        reset={"progress": "starting"},
        give_up=_stopped_too_often,
        record=lambda job, before, note: _record(job, by=None, before=before, note=note),
    )


def _stale_after() -> dt.timedelta:
    # A live worker writes progress at least once per step, and no step waits longer than a page load.
    return dt.timedelta(seconds=settings.CAPTURE_PAGE_SECONDS + 120)


def _stopped_too_often(job: CaptureJob, reason: str, before: str) -> None:
    job.status, job.finished_at, job.progress = Status.FAILED, timezone.now(), reason
    job.save(update_fields=["status", "finished_at", "progress"])
    _record(job, by=None, before=before, note=reason)


class _Progress:
    """Writes the live line to the job's row (at most once a second within a step); echoes it to a command."""

    def __init__(self, job: CaptureJob, echo: Callable[[str, int], None] | None):
        self.job, self.echo = job, echo
        self.written_at, self.step = 0.0, -1

    def __call__(self, line: str, step: int) -> None:
        if self.echo is not None:
            self.echo(line, step)
        now = time.monotonic()
        if step == self.step and now - self.written_at < PROGRESS_SECONDS:
            return
        self.step, self.written_at = step, now
        if not job_queue.keep_alive(self.job, progress=line[:300]):
            raise LostClaim(f"Capture {self.job.pk} is no longer this delivery's")


def _finish(job: CaptureJob, steps: dict, kept: _Kept) -> str | None:
    _fail_rest(steps, "the step did not run")
    with transaction.atomic():
        current = job_queue.lock_own(job)
        if current is None:
            log.warning("Capture %s changed hands before its outcome was recorded", job.pk)
            return None
        current.steps = {step: steps[step] for step in STEPS}
        current.facts, current.sighting = job.facts, job.sighting
        current.screenshot = kept.artifacts.get("screenshot")
        current.pdf = kept.artifacts.get("pdf")
        current.archive = kept.artifacts.get("archive")
        current.finished_at = current.touched_at = timezone.now()
        found = changes.since_last_capture(current)
        current.changes = [change.line for change in found]
        anything = any(step["outcome"] == OK for step in current.steps.values())
        current.status = Status.DONE if anything else Status.FAILED
        current.progress = summary(current)
        current.save()
        current.media_items.set(kept.media)
        changes.raise_flags(current, found)
        _record(current, by=None, before=Status.RUNNING, note=current.progress)
    return current.status


def summary(job: CaptureJob) -> str:
    """One line for the desk: each step's outcome, and what changed since the last capture."""
    words = {OK: "ok", UNAVAILABLE: "not available", FAILED: "failed"}
    line = ", ".join(f"{step} {words[job.steps[step]['outcome']]}" for step in STEPS if step in job.steps)
    if job.changes:
        line += ". Since the last capture: " + "; ".join(job.changes)
    return line


def _cookie_file(url: str, folder: Path) -> Path | None:
    """The desk's cookie file for the post's platform, written for this capture only; never logged."""
    platform = platform_of("", url)
    cookies = PlatformCookies.objects.filter(platform=platform).values_list("cookies", flat=True).first()
    if not cookies:
        return None
    path = folder / "cookies.txt"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(cookies if cookies.endswith("\n") else cookies + "\n")
    return path


def _record(job: CaptureJob, *, by, before: str | None = None, note: str) -> CaseEvent:
    new = {"capture": job.pk, "url": job.url, "status": job.status}
    if job.is_finished:
        new["steps"] = {step: outcome["outcome"] for step, outcome in job.steps.items()}
        new["files"] = {step: outcome.get("sha256") for step, outcome in job.steps.items() if outcome.get("sha256")}
        if job.changes:
            new["changes"] = job.changes
    return services.record_event(
        case=job.case,
        kind=CaseEvent.Kind.POST_CAPTURE,
        by=by,
        old={"status": before} if before else None,
        new=new,
        note=note,
    )


def recapture_watched(now=None) -> int:
    """Queue a fresh capture of every captured sighting of an open case whose last capture is old enough."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(hours=settings.CAPTURE_WATCH_HOURS)
    queued = 0
    sightings = (
        Sighting.objects.filter(captures__isnull=False, url__gt="")
        .exclude(case__stage__in=workflow.CLOSED_STAGES)
        .select_related("case")
        .distinct()
    )
    for sighting in sightings:
        latest = sighting.captures.order_by("-requested_at").first()
        if latest.is_finished and latest.finished_at < cutoff:
            queue_capture(case=sighting.case, url=sighting.url, by=None, sighting=sighting, trigger="schedule")
            queued += 1
    return queued


def requeue_stalled(now=None) -> int:
    """Re-send captures a lost message or a dead worker left unfinished; give up on ones hours old.

    Returns how many were re-sent.
    """
    now = now or timezone.now()
    return job_queue.requeue_stalled(
        CaptureJob,
        what="capture",
        now=now,
        stale_after=_stale_after(),
        give_up_before=now - GIVE_UP_AFTER,
        overdue=lambda minutes: f"no worker finished this capture in {minutes} minutes; capture again to retry",
        send=send,
        give_up=_give_up,
    )


def _give_up(job_id: int, reason: str) -> None:
    with transaction.atomic():
        job = CaptureJob.objects.select_for_update(of=("self",)).select_related("case").get(pk=job_id)
        if job.is_finished:
            return
        before = job.status
        steps: dict = {}
        _fail_rest(steps, reason)
        job.steps, job.status = steps, Status.FAILED
        job.finished_at = job.touched_at = timezone.now()
        job.progress = summary(job)
        job.save(update_fields=["steps", "status", "finished_at", "touched_at", "progress"])
        _record(job, by=None, before=before, note=reason)
