"""Reviewers' and editors' pages in the admin: the checklist, proposing and approving verdicts, queues."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.forms import formset_factory
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from verify import flags, selectors, services, workflow
from verify.bidi import isolate
from verify.desk import reproposal
from verify.desk.formats import person
from verify.models import (
    Assignment,
    Case,
    ChecklistItem,
    Extraction,
    Flag,
    MediaItem,
    MediaReviewCategory,
    Sighting,
    Verdict,
)
from verify.record import versions
from verify.workflow import EDITOR, OPEN_STAGES, REVIEWER, WorkflowError


def _page(model_admin, request, template: str, title: str, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/verify/case/{template}",
        {**model_admin.admin_site.each_context(request), "opts": Case._meta, "title": title, **context},
    )


def _case(request: HttpRequest, case_id: int) -> Case:
    if not request.user.has_perm("verify.view_case"):
        raise PermissionDenied
    return get_object_or_404(Case, pk=case_id)


def _case_url(case: Case) -> str:
    return reverse("admin:verify_case_change", args=[case.pk])


def _errors(exc: Exception) -> str:
    return "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


# The checklist


class ChecklistAnswerForm(forms.Form):
    item_id = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=ChecklistItem.Status.choices)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 50}))
    evidence_links = forms.CharField(
        required=False,
        label="evidence links",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="One web address per line.",
    )

    def clean_evidence_links(self) -> list[str]:
        links = [line.strip() for line in self.cleaned_data["evidence_links"].splitlines() if line.strip()]
        field = forms.URLField(assume_scheme="https")
        bad = []
        for link in links:
            try:
                field.clean(link)
            except ValidationError:
                bad.append(link)
        if bad:
            raise ValidationError(f"Not a web address: {', '.join(bad)}")
        return links


ChecklistFormSet = formset_factory(ChecklistAnswerForm, extra=0)


def checklist_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    items = {item.pk: item for item in case.checklist.all()}
    initial = [
        {"item_id": i.pk, "status": i.status, "notes": i.notes, "evidence_links": "\n".join(i.evidence_links)}
        for i in items.values()
    ]
    formset = ChecklistFormSet(request.POST or None, initial=initial)
    token = versions.page_token(request, case)
    if request.method == "POST" and formset.is_valid():
        changed = 0
        try:
            with transaction.atomic():
                versions.lock_unchanged(case_id=case.pk, token=versions.posted_token(request.POST))
                for form in formset:
                    if form.has_changed():
                        data = form.cleaned_data
                        services.answer_checklist_item(
                            item=items[data["item_id"]],
                            by=request.user,
                            status=data["status"],
                            notes=data["notes"],
                            evidence_links=data["evidence_links"],
                        )
                        changed += 1
        except versions.StaleEdit as exc:
            messages.error(request, str(exc))
            token = exc.token
        except (WorkflowError, KeyError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{changed} answer(s) saved." if changed else "Nothing changed.")
            return redirect(_case_url(case))
    rows = [(items[form.initial["item_id"]], form) for form in formset]
    return _page(
        model_admin,
        request,
        "checklist.html",
        f"Checklist of case #{case.pk}",
        case=case,
        formset=formset,
        rows=rows,
        token=token,
    )


# Proposing a verdict


class VerdictForm(forms.Form):
    # No rating is offered ready-made: the reviewer picks one.
    rating = forms.ChoiceField(choices=[("", "— choose a rating —"), *Verdict.Rating.choices])
    confidence = forms.ChoiceField(choices=Verdict.Confidence.choices)
    media_category = forms.ChoiceField(
        label="media, taken together",
        choices=[("", "— not about media —"), *MediaReviewCategory.choices],
        required=False,
    )
    summary = forms.CharField(max_length=280, help_text="One line a reader sees first.")
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))
    evidence_sightings = forms.ModelMultipleChoiceField(
        queryset=Sighting.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="sightings"
    )
    evidence_readings = forms.ModelMultipleChoiceField(
        queryset=Extraction.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="readings"
    )
    evidence_flags = forms.ModelMultipleChoiceField(
        queryset=Flag.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="flags"
    )
    evidence_links = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), help_text="One web address per line."
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        # Each choice's label sits beside its checkbox: user text in it is isolated (verify.bidi).
        self.fields["evidence_sightings"].queryset = case.sightings.all()
        self.fields["evidence_sightings"].label_from_instance = lambda s: isolate(str(s))
        self.fields["evidence_readings"].queryset = (
            Extraction.objects.filter(media_item__cases=case, status=Extraction.Status.OK)
            .select_related("media_item")
            .order_by("media_item__original_name", "extractor")
        )
        self.fields["evidence_readings"].label_from_instance = lambda e: (
            f"{isolate(e.media_item.original_name)}: {e.extractor} reading"
        )
        self.fields["evidence_flags"].queryset = flags.case_flags(case)
        self.fields["evidence_flags"].label_from_instance = lambda f: isolate(services.flag_label(f))

    clean_evidence_links = ChecklistAnswerForm.clean_evidence_links

    def evidence(self) -> list[dict]:
        data = self.cleaned_data
        return [
            *({"kind": "sighting", "id": s.pk} for s in data["evidence_sightings"]),
            *({"kind": "extraction", "id": e.pk} for e in data["evidence_readings"]),
            *({"kind": "flag", "id": f.pk} for f in data["evidence_flags"]),
            *({"kind": "link", "url": url} for url in data["evidence_links"]),
        ]


class MediaRatingForm(forms.Form):
    media_item_id = forms.IntegerField(widget=forms.HiddenInput)
    category = forms.ChoiceField(choices=[("", "— not judged —"), *MediaReviewCategory.choices], required=False)
    original_context = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}), label="original context"
    )
    original_link = forms.URLField(required=False, assume_scheme="https", label="link to the original")


MediaRatingFormSet = formset_factory(MediaRatingForm, extra=0)


def propose_verdict_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    items = {item.pk: item for item in MediaItem.objects.filter(cases=case).order_by("collected_at")}
    # After a send-back the form starts from the version sent back (verify.desk.reproposal).
    sent_back = reproposal.sent_back_version(case)
    initial = reproposal.verdict_initial(sent_back) if sent_back else {}
    form = VerdictForm(request.POST or None, case=case, initial=initial)
    ratings = MediaRatingFormSet(
        request.POST or None, prefix="media", initial=reproposal.media_rating_initial(sent_back, list(items))
    )
    token = versions.page_token(request, case)
    if request.method == "POST" and form.is_valid() and ratings.is_valid():
        media_ratings = [
            {**r.cleaned_data, "media_item": items[r.cleaned_data["media_item_id"]]}
            for r in ratings
            if r.cleaned_data.get("category") and r.cleaned_data["media_item_id"] in items
        ]
        data = form.cleaned_data
        try:
            with transaction.atomic():
                # A draft written while the case changed (a file, an answer, the claim) is not proposed unseen.
                versions.lock_unchanged(case_id=case.pk, token=versions.posted_token(request.POST))
                verdict = services.propose_verdict(
                    case=case,
                    by=request.user,
                    rating=data["rating"],
                    confidence=data["confidence"],
                    summary=data["summary"],
                    rationale=data["rationale"],
                    media_category=data["media_category"],
                    media_ratings=media_ratings,
                    evidence=form.evidence(),
                )
        except versions.StaleEdit as exc:
            messages.error(request, str(exc))
            token = exc.token
        except (WorkflowError, ValidationError) as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, f"Verdict v{verdict.number} proposed; case #{case.pk} awaits an editor.")
            return redirect(_case_url(case))
    rows = [(items[r.initial["media_item_id"]], r) for r in ratings]
    return _page(
        model_admin,
        request,
        "propose_verdict.html",
        f"Propose a verdict on case #{case.pk}",
        case=case,
        form=form,
        ratings=ratings,
        rating_rows=rows,
        open_required=case.checklist.filter(required=True, status=ChecklistItem.Status.OPEN),
        token=token,
        sent_back=sent_back,
    )


# Approving or sending back


def review_verdict_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    verdict = case.verdicts.filter(status=Verdict.Status.PROPOSED).select_related("author").first()
    if request.method == "POST":
        try:
            if "approve" in request.POST:
                services.approve_verdict(case=case, by=request.user, note=request.POST.get("note", ""))
                messages.success(request, f"Verdict approved; case #{case.pk} is published.")
            else:
                services.send_back_verdict(case=case, by=request.user, reason=request.POST.get("note", ""))
                messages.success(request, "Verdict sent back to review with your reason.")
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            return redirect(_case_url(case))
    history = case.verdicts.select_related("author", "reviewed_by").prefetch_related("media_ratings__media_item")
    return _page(
        model_admin,
        request,
        "review_verdict.html",
        f"Review the verdict on case #{case.pk}",
        case=case,
        verdict=verdict,
        history=history,
    )


# Queues


def my_queue_view(model_admin, request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            case = services.take_next_case(by=request.user)
        except WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            if case is None:
                messages.info(request, "No unassigned case is waiting in triage or review.")
            else:
                messages.success(request, f"Case #{case.pk} is yours: {case.title}")
                return redirect(_case_url(case))
        return redirect("admin:verify_case_my_queue")
    cases = selectors.reviewer_queue(request.user)
    return _page(
        model_admin,
        request,
        "my_queue.html",
        "My queue",
        cases=cases,
        now=timezone.now(),
        can_take=REVIEWER in workflow.roles_of(request.user),
    )


def workload_view(model_admin, request: HttpRequest) -> HttpResponse:
    if not workflow.roles_of(request.user) & {workflow.DESK, EDITOR}:
        raise PermissionDenied
    now = timezone.now()
    open_work = Q(assignments__case__stage__in=OPEN_STAGES)
    people = (
        get_user_model()
        .objects.filter(Q(groups__name=REVIEWER) | Q(is_superuser=True), is_active=True)
        .distinct()
        .annotate(
            open_cases=Count("assignments", filter=open_work, distinct=True),
            leading=Count("assignments", filter=open_work & Q(assignments__role="lead"), distinct=True),
            overdue=Count("assignments", filter=open_work & Q(assignments__case__deadline__lt=now), distinct=True),
        )
        .order_by("-open_cases", "username")
    )
    unassigned = Case.objects.filter(stage__in=OPEN_STAGES, assignments__isnull=True).count()
    return _page(model_admin, request, "workload.html", "Reviewer workload", people=people, unassigned=unassigned)


# Assigning from the case page


class AssignForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=get_user_model().objects.none())
    role = forms.ChoiceField(
        choices=Assignment.Role.choices,
        error_messages={
            "invalid_choice": f"%(value)r is not a reviewer role; choose one of: {', '.join(Assignment.Role.values)}"
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from verify.admin import ReviewerField

        # Names a non-reviewer and the role they lack, rather than "Select a valid choice".
        self.fields["reviewer"] = ReviewerField()


def assign_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    case = _case(request, case_id)
    if not request.user.has_perm("verify.assign_case"):
        raise PermissionDenied
    form = AssignForm(request.POST or None)
    token = versions.page_token(request, case)
    if request.method == "POST":
        try:
            with transaction.atomic():
                if "unassign" in request.POST or form.is_valid():
                    versions.lock_unchanged(case_id=case.pk, token=versions.posted_token(request.POST))
                if "unassign" in request.POST:
                    services.unassign_reviewer(case=case, role=request.POST["unassign"], by=request.user)
                    messages.success(request, "Reviewer unassigned.")
                    return redirect(reverse("admin:verify_case_assign", args=[case.pk]))
                if form.is_valid():
                    assignment = services.assign_reviewer(
                        case=case, user=form.cleaned_data["reviewer"], by=request.user, role=form.cleaned_data["role"]
                    )
                    messages.success(
                        request, f"{person(assignment.user)} is now {assignment.get_role_display().lower()}."
                    )
                    return redirect(_case_url(case))
        except versions.StaleEdit as exc:
            messages.error(request, str(exc))
            token = exc.token
        except WorkflowError as exc:
            messages.error(request, str(exc))
    assignments = case.assignments.select_related("user")
    return _page(
        model_admin,
        request,
        "assign.html",
        f"Reviewers of case #{case.pk}",
        case=case,
        form=form,
        assignments=assignments,
        token=token,
    )
