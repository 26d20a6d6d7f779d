"""The case change form's version token and frozen check, run under the row lock of the admin's save."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from verify.models import Case
from verify.record import frozen, versions
from verify.workflow import WorkflowError


class VersionedCaseForm(forms.ModelForm):
    """The admin's case form: refuses a save over changes made since it was opened, and any save of a published case.

    The admin validates and saves in one transaction, so the row locked here stays locked until
    the case and its sightings are written.
    """

    case_version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    seen_event = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            token = versions.token_for(self.instance)
            for name, value in token.items():
                self.fields[name].initial = value

    def token(self) -> versions.Token:
        return versions.Token(self.cleaned_data.get("case_version"), self.cleaned_data.get("seen_event"))

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk:
            return cleaned
        try:
            frozen.check_editable(Case.objects.select_for_update().get(pk=self.instance.pk), "change it")
            versions.lock_unchanged(case_id=self.instance.pk, token=self.token())
        except versions.StaleEdit as exc:
            # Shown again with the case's current token: saving once more keeps this person's input, knowingly.
            self.data = self.data.copy()
            for name, value in exc.token.items():
                self.data[self.add_prefix(name)] = value
            raise ValidationError(str(exc), code="stale") from None
        except WorkflowError as exc:
            raise ValidationError(str(exc), code="frozen") from None
        return cleaned
