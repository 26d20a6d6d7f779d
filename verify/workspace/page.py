"""The case page as a workspace: its live parts, their versions, and the refresh that sends only what changed."""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse

from verify import case_story, intake, media_panel, selectors, workflow
from verify.models import Assignment, Case, ChecklistItem
from verify.record import versions
from verify.workflow import EDITOR, REVIEWER, Stage
from verify.workspace import gallery, moves

# A CSRF token is masked afresh on every render: it says nothing about whether a section changed.
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')
CHECKLIST_STAGES = (Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW)


def _version(html: str) -> str:
    return hashlib.blake2b(CSRF_INPUT.sub("", html).encode(), digest_size=4).hexdigest()


def live_parts(request: HttpRequest, case: Case) -> dict:
    """The HTML of each section that refreshes while files are read (progress, flag summary, timeline and places),
    each file's card and its version, and how much is still being read.

    A section's version is a digest of its HTML; a card's, of what it shows (gallery.card_version),
    so that only the cards that changed are drawn again."""
    context = {
        **gallery.gallery_context(case),
        "can_add_media": bool(workflow.roles_of(request.user) & intake.INTAKE_ROLES),
        "sensitive": case.is_graphic,
    }
    sections = {
        "progress": render_to_string("admin/verify/case/workspace/progress.html", context, request),
        "summary": render_to_string("admin/verify/case/workspace/flag_summary.html", context),
        "story": _story_section(case, context),
    }
    cards = {str(card["item"].pk): card for card in context["cards"]}
    versions_now = {
        **{key: _version(html) for key, html in sections.items()},
        **{key: gallery.card_version(card, sensitive=case.is_graphic) for key, card in cards.items()},
    }
    panel = context["panel"]
    return {
        "case": case,
        "sections": sections,
        "cards": cards,
        "gallery": gallery.gallery_html(context["cards"], sensitive=case.is_graphic),
        "versions": versions_now,
        "known": "_".join(f"{key}.{version}" for key, version in versions_now.items()),
        "pending": panel["pending"] + panel["downloads_pending"],
        "sensitive": case.is_graphic,
    }


def _story_section(case: Case, context: dict) -> str:
    """The timeline and places, drawn with the page up to settings.CASE_STORY_INLINE_FILES files.

    A bigger case's story is one entry per file and point: it is fetched when someone asks for it
    (the case's story view), so the page of a 400-file case stays quick to draw and to send."""
    files = len(context["cards"])
    if files > settings.CASE_STORY_INLINE_FILES:
        return render_to_string(
            "admin/verify/case/workspace/story_on_demand.html",
            {"files": files, "story_url": reverse("admin:verify_case_story", args=[case.pk])},
        )
    context.update(case_story.story_context(case))
    return render_to_string("admin/verify/case/story.html", context)


def _parse_known(value: str) -> dict[str, str]:
    pairs = (part.partition(".") for part in value.split("_") if part)
    return {key: version for key, _, version in pairs}


def live_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    """What changed on the case page since the versions in `known`: 304 when nothing did, else only the changed parts.

    Sections and cards the page already holds at the same version are left out; the page
    swaps in the ones sent, so an open file stays open and nothing else is redrawn."""
    case = media_panel.case_for(request, case_id)
    parts = live_parts(request, case)
    asked = request.GET.get("known", "")
    if asked == parts["known"]:
        return HttpResponseNotModified()
    held = _parse_known(asked)
    now = parts["versions"]
    changed_cards = [key for key in parts["cards"] if held.get(key) != now[key]]
    return JsonResponse(
        {
            "known": parts["known"],
            "pending": parts["pending"],
            "sections": {key: html for key, html in parts["sections"].items() if held.get(key) != now[key]},
            "files": {key: gallery.card_html(parts["cards"][key], sensitive=case.is_graphic) for key in changed_cards},
            # The files the case holds, in order: a card not among them is dropped.
            "order": list(parts["cards"]),
        }
    )


def media_panel_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    """The media panel alone (progress, links, captures and the gallery), as the case page draws it."""
    case = media_panel.case_for(request, case_id)
    context = {
        "case": case,
        "live": live_parts(request, case),
        "can_add_media": bool(workflow.roles_of(request.user) & intake.INTAKE_ROLES),
    }
    return TemplateResponse(request, "admin/verify/case/workspace/media.html", context)


def work_panel(case: Case, user, assignments: list[Assignment]) -> dict:
    """The reviewer's panel beside the evidence: the checklist's answers so far, and the forms this person may open."""
    roles = workflow.roles_of(user)
    assigned = any(a.user_id == user.pk for a in assignments)
    checklist = list(case.checklist.all())
    return {
        "checklist": checklist,
        "open_required": sum(item.required and item.status == ChecklistItem.Status.OPEN for item in checklist),
        "checklist_url": reverse("admin:verify_case_checklist", args=[case.pk])
        if (assigned or EDITOR in roles) and case.stage in CHECKLIST_STAGES
        else "",
        "propose_url": reverse("admin:verify_case_propose_verdict", args=[case.pk])
        if assigned and REVIEWER in roles and case.stage == Stage.IN_REVIEW
        else "",
        "review_url": reverse("admin:verify_case_review_verdict", args=[case.pk])
        if EDITOR in roles and case.stage == Stage.AWAITING_APPROVAL
        else "",
    }


def workspace_context(request: HttpRequest, case: Case) -> dict:
    """Everything the workspace above the case's record shows: header, moves, live parts, and the work panel."""
    assignments = list(case.assignments.select_related("user").order_by("role"))
    return {
        "assignments": assignments,
        "moves": moves.next_moves(case, request.user, assignments=assignments),
        "reviewer_choices": selectors.active_reviewers().order_by("first_name", "last_name", "username"),
        "role_choices": Assignment.Role.choices,
        "token": versions.token_for(case),
        "live": live_parts(request, case),
        "work": work_panel(case, request.user, assignments),
        "sensitive": case.is_graphic,
    }
