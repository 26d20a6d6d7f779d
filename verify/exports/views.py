"""The desk's export pages: ask for an export of the case list's selection, follow it, download it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from verify.exports import jobs
from verify.models import Case, ExportJob
from verify.reports import ReportError
from verify.reports import views as report_views

# While a job runs, its page reloads itself this often (seconds).
POLL_SECONDS = 2


def _check_may_export(request: HttpRequest) -> None:
    if not request.user.has_perm("verify.export_report"):
        raise PermissionDenied


def export_view(model_admin, request: HttpRequest, fmt: str) -> HttpResponse:
    """The cases the list's current filters and search select, as CSV or JSON: streamed when few,
    else written by a worker, with the job's page to follow it."""
    _check_may_export(request)
    changelist = model_admin.get_changelist_instance(request)
    back = reverse("admin:verify_case_changelist") + changelist.get_query_string()
    # The list's own prefetches give way to the export's.
    queryset = changelist.queryset.prefetch_related(None)
    try:
        if fmt not in report_views.SET_FORMATS:
            return report_views.export_response(queryset, fmt)  # raises the ReportError that names the formats
        if queryset.count() <= settings.EXPORT_STREAM_MAX_CASES:
            return report_views.export_response(queryset, fmt)
    except ReportError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    case_ids = list(queryset.values_list("pk", flat=True))
    job = jobs.request_export(by=request.user, fmt=fmt, case_ids=case_ids)
    return redirect("admin:verify_case_export_job", job_id=job.pk)


def _job_for(request: HttpRequest, job_id: int) -> ExportJob:
    _check_may_export(request)
    job = get_object_or_404(ExportJob, pk=job_id)
    # An export holds internal notes and names: it is its requester's (or a superuser's) to fetch.
    if job.requested_by_id != request.user.pk and not request.user.is_superuser:
        raise Http404("No such export")
    return job


def export_job_view(model_admin, request: HttpRequest, job_id: int) -> TemplateResponse:
    """How far the export has got, reloading itself until the file is ready (or the job failed)."""
    job = _job_for(request, job_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Case._meta,
        "title": f"Export #{job.pk}",
        "job": job,
        "poll_seconds": None if job.is_finished else POLL_SECONDS,
    }
    return TemplateResponse(request, "admin/verify/case/export_job.html", context)


def export_download_view(model_admin, request: HttpRequest, job_id: int) -> FileResponse:
    job = _job_for(request, job_id)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404("This export has no file yet")
    content_type = "text/csv; charset=utf-8" if job.format == ExportJob.Format.CSV else "application/json"
    filename = job.file.name.rsplit("/", 1)[-1]
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=filename, content_type=content_type)
