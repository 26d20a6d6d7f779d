"""The editors' "Download evidence bundle" button: the case's bag as a zip, streamed from a temporary file.

Editors only (the `export_report` permission, as for reports): the bundle carries everything the
internal reports do (checklist notes, who reported each sighting, desk members' names) and every
original besides, so sending it out of the desk is an editorial decision, not an intake one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from verify.bundle.export import BundleError, export_bundle
from verify.models import Case


def bundle_download_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    if not request.user.has_perm("verify.export_report"):
        raise PermissionDenied
    case = get_object_or_404(Case, pk=case_id)
    name = f"case-{case.pk}-evidence-bundle.zip"
    # Built beside the archive (a bundle is as large as the case's originals), never in memory.
    work = Path(settings.MEDIA_ROOT) / "bundles"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="download-") as folder:
        output = Path(folder) / name
        try:
            export_bundle(
                case_id=case.pk,
                output=output,
                include_media=True,
                exporter=f"{request.user.get_username()} (Download evidence bundle)",
            )
        except BundleError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("admin:verify_case_change", args=[case.pk]))
        # The open file outlives its name: the folder goes now, the bytes when the response is closed.
        handle = open(output, "rb")  # noqa: SIM115 - closed by FileResponse
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/zip")
