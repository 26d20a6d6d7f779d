"""Plain views outside the admin: health check, and evidence files for logged-in desk users only."""

import json
import re
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from verify.intake import download_name, original_path
from verify.models import MediaItem
from verify.pipeline import artifacts_dir
from workers.extractors import EXTRACTOR_MODULES

ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}\.(jpg|png|json)$")


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the web process can reach its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _media_item_for(request: HttpRequest, sha256: str) -> MediaItem:
    if not request.user.has_perm("verify.view_mediaitem"):
        raise Http404("No such file")
    return get_object_or_404(MediaItem, sha256=sha256)


def _secure(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@staff_member_required
def media_original(request: HttpRequest, sha256: str) -> FileResponse:
    """The preserved file itself, as a download (never rendered inline: it may be hostile)."""
    item = _media_item_for(request, sha256)
    path = original_path(item.sha256)
    if not path.exists():
        raise Http404("The stored file is missing")
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=download_name(item))  # noqa: SIM115
    response["Content-Type"] = "application/octet-stream"
    return _secure(response)


@require_GET
@staff_member_required
def media_artifact(request: HttpRequest, sha256: str, extractor: str, name: str) -> FileResponse:
    """A derived file (thumbnail, keyframe, error-level image) written by an extractor."""
    item = _media_item_for(request, sha256)
    if extractor not in EXTRACTOR_MODULES or not ARTIFACT_NAME.match(name):
        raise Http404("No such derived file")
    path = artifacts_dir(item, extractor) / name
    if not path.is_file() or Path(settings.MEDIA_ROOT) not in path.resolve().parents:
        raise Http404("No such derived file")
    return _secure(FileResponse(open(path, "rb")))  # noqa: SIM115


def as_pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
