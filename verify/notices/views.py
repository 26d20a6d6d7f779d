"""A person's notices: the list (unread first to the eye), opening one, marking them read."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from verify.notices.models import Notice

# The newest notices the page lists; older ones stay in the table.
PAGE_NOTICES = 100


def notices_view(request: HttpRequest) -> HttpResponse:
    notices = Notice.objects.filter(recipient=request.user).select_related("case", "mail")[:PAGE_NOTICES]
    return TemplateResponse(
        request,
        "notices/list.html",
        {
            **admin.site.each_context(request),
            "title": "Notices",
            "notices": notices,
            "unread": Notice.objects.filter(recipient=request.user, read_at__isnull=True).count(),
        },
    )


def open_notice_view(request: HttpRequest, notice_id: int) -> HttpResponse:
    """Mark the notice read and go to its case: following a notice is reading it."""
    notice = get_object_or_404(Notice, pk=notice_id, recipient=request.user)
    if notice.read_at is None:
        Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=timezone.now())
    return redirect(notice.case.get_absolute_url())


@require_POST
def mark_read_view(request: HttpRequest) -> HttpResponse:
    """Mark one notice (`notice` in the form) or all of the user's notices read."""
    unread = Notice.objects.filter(recipient=request.user, read_at__isnull=True)
    if "notice" in request.POST:
        unread = unread.filter(pk=request.POST["notice"])
    unread.update(read_at=timezone.now())
    return redirect("notices")
