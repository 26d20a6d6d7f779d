"""The desk search page in the admin: one box for a SHA-256 or its prefix, a file name, an account, a link or words."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from verify.models import Case
from verify.search.finder import MAX_LENGTH, SearchTerm, SearchTermError, search


def desk_search_view(model_admin, request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("verify.view_case"):
        raise PermissionDenied
    typed = request.GET.get("q", "")
    context = {"q": typed[: MAX_LENGTH * 2], "max_length": MAX_LENGTH}
    if typed.strip():
        try:
            context["results"] = search(SearchTerm.parse(typed))
        except SearchTermError as exc:
            context["error"] = str(exc)
    return TemplateResponse(
        request,
        "admin/verify/search/results.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Case._meta,
            "title": "Search cases, files and sightings",
            **context,
        },
    )
