"""Adding sightings: the one form the desk's inline and the reviewers' page both use, and the reviewers' page."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from verify import media_panel, services, workflow
from verify.bidi import isolate
from verify.models import Case, CaseMedia, Sighting
from verify.workflow import WorkflowError

# What a person gives of a sighting, in the order the forms show it.
SIGHTING_FIELDS = ["role", "platform", "url", "account", "posted_at", "caption", "reported_by", "media_item"]
# Options of the model's form fields wherever the form is built (the admin builds its own fields).
FIELD_OPTIONS = {
    "url": {"assume_scheme": "https"},
    "caption": {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})},
}


def sighting_formfield(db_field, **kwargs):
    return db_field.formfield(**{**FIELD_OPTIONS.get(db_field.name, {}), **kwargs})


class SightingForm(forms.ModelForm):
    """A sighting as the desk and reviewers give it, with the same checks wherever it is added."""

    capture_post = forms.BooleanField(
        label="capture the post",
        required=False,
        help_text="Keep the post's media, details, screenshot, PDF and web archive; blank fields are filled in.",
    )

    class Meta:
        model = Sighting
        fields = SIGHTING_FIELDS
        formfield_callback = sighting_formfield

    def clean(self):
        data = super().clean()
        if not (data.get("url") or data.get("account") or data.get("caption")):
            raise ValidationError("Give the sighting's link, the account that posted it, or its caption.")
        if data.get("capture_post") and not data.get("url"):
            self.add_error("capture_post", "Give the post's URL to capture it.")
        item, case_id = data.get("media_item"), self.instance.case_id
        if item and case_id and not CaseMedia.objects.filter(case_id=case_id, media_item=item).exists():
            self.add_error(
                "media_item", f"{isolate(str(item))} is not one of case #{case_id}'s files; add it to the case first."
            )
        return data

    def sighting_fields(self) -> dict:
        """The cleaned values `services.add_sighting` takes."""
        return {name: self.cleaned_data.get(name) for name in SIGHTING_FIELDS}


def may_add_sighting(user, case: Case) -> bool:
    try:
        workflow.check_adding_sighting(case=case, by=user)
    except WorkflowError:
        return False
    return True


def add_sighting_view(model_admin, request: HttpRequest, case_id: int) -> HttpResponse:
    """A page of its own for adding a sighting: reviewers see the case page read-only, without the desk's inline."""
    case = get_object_or_404(Case, pk=case_id)
    if not (request.user.has_perm("verify.add_sighting") and may_add_sighting(request.user, case)):
        raise PermissionDenied
    form = SightingForm(request.POST or None, instance=Sighting(case=case))
    form.fields["media_item"].queryset = case.media_items.order_by("collected_at")
    form.fields["media_item"].label_from_instance = lambda item: isolate(str(item))
    if request.method == "POST" and form.is_valid():
        try:
            sighting = services.add_sighting(case=case, by=request.user, **form.sighting_fields())
        except (WorkflowError, ValidationError) as exc:
            form.add_error(None, "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
        else:
            messages.success(request, f"Sighting added to case #{case.pk}: {sighting}.")
            if form.cleaned_data["capture_post"]:
                for problem in media_panel.queue_post_capture(
                    request, case, sighting.url, sighting=sighting, trigger="sighting"
                ):
                    messages.error(request, problem)
            return redirect(reverse("admin:verify_case_change", args=[case.pk]))
    return TemplateResponse(
        request,
        "admin/verify/sightings/add.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": Case._meta,
            "title": f"Add a sighting to case #{case.pk}",
            "case": case,
            "form": form,
        },
    )
