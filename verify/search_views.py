"""Search by file in the admin: drop a photo or video, see the archived items closest to it. Nothing is stored."""

from __future__ import annotations

import base64
import hashlib
import io
import tempfile
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from PIL import Image

from verify import similarity
from verify.intake import human_bytes, safe_original_name
from verify.models import Case
from verify.similarity import ArchiveMatch, FileSearch, UnsearchableFile
from workers.extractors import perceptual
from workers.extractors.imaging import DECODE_ERRORS

PREVIEW_WIDTH = 200
MAX_QUERY_PREVIEWS = 6


class SearchByFileForm(forms.Form):
    file = forms.FileField(
        label="Photo or video",
        help_text="Compared with every photo and video keyframe in the archive; it is not added to any case.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"{safe_original_name(upload.name)} is {human_bytes(upload.size)}, over the "
                f"{human_bytes(settings.MAX_UPLOAD_BYTES)} limit for one file."
            )
        return upload


def search_by_file_view(model_admin, request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("verify.view_case"):
        raise PermissionDenied
    form = SearchByFileForm(request.POST or None, request.FILES or None)
    context = {}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            context = _search(upload)
        except UnsearchableFile as exc:
            form.add_error("file", f"{safe_original_name(upload.name)}: {exc}")
        else:
            context["file_name"] = safe_original_name(upload.name)
    return TemplateResponse(
        request,
        "admin/verify/case/search_by_file.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Case._meta,
            "title": "Search the archive by file",
            "form": form,
            "max_size": human_bytes(settings.MAX_UPLOAD_BYTES),
            "max_distance": settings.SIMILARITY_MAX_DISTANCE,
            "strict_distance": settings.SIMILARITY_STRICT_DISTANCE,
            **context,
        },
    )


def _search(upload) -> dict:
    """Copy the upload to a private temporary folder (never under its own name), hash it, look it up."""
    with tempfile.TemporaryDirectory(prefix="verify-search-") as tmp:
        path, work = Path(tmp) / "upload", Path(tmp) / "work"
        work.mkdir()
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        found = similarity.search_file(path, work)
        previews = _query_previews(found, work)
    sha256 = digest.hexdigest()
    return {
        "search": found,
        "sha256": sha256,
        "query_previews": previews,
        "matches": [_row(match, sha256) for match in found.matches],
        "nearest": [_row(match, sha256) for match in found.nearest],
    }


def _query_previews(found: FileSearch, work: Path) -> list[str]:
    """Small inline copies of the pictures that were hashed: the file exists only for this request."""
    names = [k["file"] for k in found.reading.get("keyframes", []) if k.get("file")] or found.reading.get(
        "artifacts", []
    )
    previews = []
    for name in names[:MAX_QUERY_PREVIEWS]:
        try:
            with Image.open(work / name) as picture:
                picture.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH))
                buffer = io.BytesIO()
                picture.convert("RGB").save(buffer, "JPEG", quality=80)
        except (*DECODE_ERRORS, FileNotFoundError):
            continue
        previews.append("data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return previews


def _row(match: ArchiveMatch, sha256: str) -> dict:
    cases = []
    for case in match.cases:
        verdicts = list(case.verdicts.all())  # prefetched, newest first
        cases.append({"case": case, "verdict": verdicts[0] if verdicts else None})
    preview = (
        reverse("media-artifact", args=[match.item.sha256, perceptual.NAME, match.preview]) if match.preview else None
    )
    return {
        "match": match,
        "preview": preview,
        "cases": cases,
        "strict": match.distance <= settings.SIMILARITY_STRICT_DISTANCE,
        "identical": match.item.sha256 == sha256,
    }
