"""The case page's media: adding files (upload or link) and the reviewer's panel of each file's readings."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from verify import case_story, downloads, flags, intake, selectors, similarity, workflow
from verify.capture import jobs
from verify.clips import CLIP_OF
from verify.intake import IntakeError, human_bytes
from verify.models import CaptureJob, Case, Extraction, MediaItem
from verify.views import as_pretty_json
from verify.workflow import WorkflowError


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class AddMediaForm(forms.Form):
    files = MultipleFileField(label="Files", required=False, help_text="Photos or videos; several at once.")
    url = forms.URLField(label="Or a link to download", required=False, assume_scheme="https", max_length=2000)
    post_url = forms.URLField(
        label="Or a post to capture",
        required=False,
        assume_scheme="https",
        max_length=2000,
        help_text="A post's link (Telegram, X, YouTube, TikTok, a news page…): its media, its details, a "
        "screenshot, a PDF and a web archive of the page are kept, and a sighting is filled in.",
    )

    def clean(self):
        data = super().clean()
        files, url = data.get("files") or [], data.get("url")
        if not files and not url and not data.get("post_url") and not self.errors:
            raise forms.ValidationError("Choose at least one file, or give a link to download.")
        if len(files) > settings.MAX_UPLOAD_FILES:
            raise forms.ValidationError(
                f"{len(files)} files chosen; at most {settings.MAX_UPLOAD_FILES} can be added at once."
            )
        too_big = [f.name for f in files if f.size > settings.MAX_UPLOAD_BYTES]
        if too_big:
            raise forms.ValidationError(
                f"Over the {human_bytes(settings.MAX_UPLOAD_BYTES)} limit for one file: "
                + ", ".join(intake.safe_original_name(n) for n in too_big)
            )
        return data


def case_for(request: HttpRequest, case_id: int) -> Case:
    if not request.user.has_perm("verify.view_case"):
        raise PermissionDenied
    return get_object_or_404(Case, pk=case_id)


def add_media_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    case = case_for(request, case_id)
    if not workflow.roles_of(request.user) & intake.INTAKE_ROLES:
        raise PermissionDenied
    form = AddMediaForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        done, refused = _ingest_all(request, case, form.cleaned_data["files"])
        if done:
            messages.success(request, f"{done} file(s) added to case #{case.pk}; the readers are working on them.")
        if form.cleaned_data["url"]:
            refused += _queue_link(request, case, form.cleaned_data["url"])
        if form.cleaned_data.get("post_url"):
            refused += queue_post_capture(request, case, form.cleaned_data["post_url"])
        for problem in refused:
            messages.error(request, problem)
        if not refused:
            return redirect(reverse("admin:verify_case_change", args=[case.pk]) + "#vd-media")
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Add media to case #{case.pk}",
        "case": case,
        "form": form,
        "opts": model_admin.model._meta,
        "max_files": settings.MAX_UPLOAD_FILES,
        "max_size": human_bytes(settings.MAX_UPLOAD_BYTES),
    }
    return TemplateResponse(request, "admin/verify/case/add_media.html", context)


def _ingest_all(request, case, files) -> tuple[int, list[str]]:
    done, refused = 0, []
    for upload in files:
        try:
            result = intake.ingest_stream(
                case=case, source=upload, original_name=upload.name, by=request.user, origin="upload in the desk"
            )
            if result.linked_to_case:
                done += 1
            else:
                messages.info(
                    request,
                    f"{intake.safe_original_name(upload.name)}: the same file is already in this case "
                    f"(as {result.media_item.original_name})",
                )
        except (IntakeError, WorkflowError) as exc:
            refused.append(f"{intake.safe_original_name(upload.name)}: {exc}")
    return done, refused


def _queue_link(request, case, url) -> list[str]:
    """Queue the link for the workers; the download's progress and outcome show in the media panel."""
    try:
        downloads.queue_link_download(case=case, url=url, by=request.user)
    except (IntakeError, WorkflowError) as exc:
        return [f"{url}: {exc}"]
    messages.success(request, f"{url} is queued for download; its progress shows under the media on the case page.")
    return []


def queue_post_capture(request, case, url, *, sighting=None, trigger="desk") -> list[str]:
    """Queue a post's capture for the workers; its live line and outcomes show in the media panel."""
    try:
        jobs.queue_capture(case=case, url=url, by=request.user, sighting=sighting, trigger=trigger)
    except (IntakeError, WorkflowError) as exc:
        return [f"{url}: {exc}"]
    messages.success(request, f"{url} is queued for capture; its progress shows under the media on the case page.")
    return []


def recapture_view(model_admin, request: HttpRequest, case_id: int, capture_id: int) -> HttpResponse:
    """Capture a sighting's post again now; a deletion or an edit since the last capture is flagged."""
    case = case_for(request, case_id)
    if request.method != "POST" or not workflow.roles_of(request.user) & intake.INTAKE_ROLES:
        raise PermissionDenied
    earlier = get_object_or_404(CaptureJob, pk=capture_id, case=case)
    for problem in queue_post_capture(request, case, earlier.url, sighting=earlier.sighting, trigger="recapture"):
        messages.error(request, problem)
    return redirect(reverse("admin:verify_case_change", args=[case.pk]) + "#vd-media")


def story_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    """The timeline and places alone, polled with the media panel so that both show the same readings."""
    case = case_for(request, case_id)
    return TemplateResponse(request, "admin/verify/case/story.html", case_story.story_context(case))


def panel_context(case: Case) -> dict:
    """What the media panel reads: every file with its readings, the case's flags, downloads and captures."""
    panel = selectors.case_media_panel(case)
    panel["flags"] = list(flags.case_flags(case))
    panel["case_flags"] = [flag for flag in panel["flags"] if flag.media_item_id is None]
    # Earlier cases with this file, or one like it, are what a reviewer should read first.
    panel["archive_flags"] = [
        flag for flag in panel["flags"] if flag.kind in similarity.ARCHIVE_KINDS or flag.kind == CLIP_OF
    ]
    panel["downloads"] = selectors.case_link_downloads(case)
    panel["downloads_pending"] = sum(not download.is_finished for download in panel["downloads"])
    panel["captures"] = selectors.case_captures(case)
    panel["downloads_pending"] += sum(not capture.is_finished for capture in panel["captures"])
    return {"case": case, "panel": panel, "map_tile_url": settings.MAP_TILE_URL}


def _artifact_url(item: MediaItem, extractor: str, name: str) -> str:
    return reverse("media-artifact", args=[item.sha256, extractor, name])


def presentation(item: MediaItem, extractions: dict[str, Extraction]) -> dict:
    """What the panel shows of one item: previews, C2PA status, error-level image, raw readings."""
    perceptual = extractions.get("perceptual")
    previews = []
    if perceptual and perceptual.status == Extraction.Status.OK:
        result = perceptual.result
        for frame in result.get("keyframes") or []:
            previews.append({"url": _artifact_url(item, "perceptual", frame["file"]), "time": frame.get("time")})
        if not previews:
            previews = [
                {"url": _artifact_url(item, "perceptual", name), "time": None} for name in result.get("artifacts", [])
            ]
    c2pa = extractions.get("c2pa")
    forensics = extractions.get("forensics")
    ela = forensics.result.get("ela") if forensics and forensics.status == Extraction.Status.OK else None
    return {
        "previews": previews,
        "is_video": item.kind == MediaItem.Kind.VIDEO,
        "c2pa": c2pa.result if c2pa and c2pa.status == Extraction.Status.OK else None,
        "c2pa_extraction": c2pa,
        "ela_url": _artifact_url(item, "forensics", ela["file"]) if ela and ela.get("file") else None,
        "raw": [(name, e, as_pretty_json(e.result)) for name, e in sorted(extractions.items())],
        "has_gps": item.gps_latitude is not None and item.gps_longitude is not None,
        # Until every reading has an outcome, a blank summary field means "not read yet", not "none".
        "reading": any(not extraction.is_finished for extraction in extractions.values()),
        "map_link": case_story.open_map_link(item.gps_latitude, item.gps_longitude)
        if item.gps_latitude is not None and item.gps_longitude is not None
        else "",
        "matching_note": similarity.matching_note(perceptual.result) if previews else None,
    }
