"""The editor's page to reopen a published case for a correction or an update."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from verify import workflow
from verify.models import Case, Publication
from verify.record import frozen
from verify.record.publishing import REOPEN_KINDS, reopen_case
from verify.workflow import EDITOR, Stage, WorkflowError

FROZEN_NOTICE = (
    "This case is published: its record is frozen as it was approved. Changes are refused until an editor "
    "reopens it for a correction or an update."
)
REASON_REQUIRED = "Give a reason: it is published with the new version (“Corrected on …: reason”)."


class ReopenForm(forms.Form):
    kind = forms.ChoiceField(
        label="reopen for",
        choices=[(kind, f"{label[0].upper()}{label[1:]}") for kind, label in REOPEN_KINDS.items()],
        widget=forms.RadioSelect,
        initial=Publication.Kind.CORRECTION,
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        max_length=1000,
        help_text="What was wrong or what changed. The public page shows it with the date once the new "
        "version is approved.",
        error_messages={"required": REASON_REQUIRED},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(REASON_REQUIRED)
        return reason


def reopen_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    if EDITOR not in workflow.roles_of(request.user):
        raise PermissionDenied
    case = get_object_or_404(Case, pk=case_id)
    form = ReopenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reopen_case(case=case, by=request.user, kind=form.cleaned_data["kind"], reason=form.cleaned_data["reason"])
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"Case #{case.pk} is reopened for {REOPEN_KINDS[form.cleaned_data['kind']]} and back in review; "
                "the public page shows the last publication until the new verdict is approved.",
            )
            return redirect(reverse("admin:verify_case_change", args=[case.pk]))
    return TemplateResponse(
        request,
        "admin/verify/case/reopen.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Case._meta,
            "title": f"Reopen case #{case.pk}",
            "case": case,
            "form": form,
            "publication": frozen.latest_publication(case),
            "is_published": case.stage == Stage.PUBLISHED,
        },
    )
