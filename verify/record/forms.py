"""The case change form's version token and frozen check, run under the row lock of the admin's save."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from verify.models import Case, CaseEvent
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
            # Shown again with the case's current token, this person's own edits, and the other person's
            # changes in the fields this person left alone: saving once more loses neither, knowingly.
            self.data = self.data.copy()
            for name, value in exc.token.items():
                self.data[self.add_prefix(name)] = value
            self._take_changes_made_since(self.token().seen_event)
            raise ValidationError(str(exc), code="stale") from None
        except WorkflowError as exc:
            raise ValidationError(str(exc), code="frozen") from None
        return cleaned

    def _take_changes_made_since(self, seen_event: int | None) -> None:
        """Put the case's current value into each field someone else changed and this form left as it was opened."""
        from verify.services import _plain

        opened_as: dict[str, object] = {}
        updates = CaseEvent.objects.filter(
            case_id=self.instance.pk, pk__gt=seen_event or 0, kind=CaseEvent.Kind.UPDATED
        ).order_by("pk")
        for event in updates:
            for name, old in event.old.items():
                opened_as.setdefault(name, old)
        current = Case.objects.get(pk=self.instance.pk)
        for name, old in opened_as.items():
            if name in self.fields and name != "tags" and _plain(self.cleaned_data.get(name)) == old:
                self._put(name, getattr(current, name))

    def _put(self, name: str, value) -> None:
        field, key = self.fields[name], self.add_prefix(name)
        widget = field.widget
        if isinstance(field, forms.BooleanField):
            if value:
                self.data[key] = "on"
            else:
                self.data.pop(key, None)
        elif hasattr(widget, "widgets"):  # a date and a time in two inputs
            for i, (part_widget, part) in enumerate(zip(widget.widgets, widget.decompress(value), strict=True)):
                self.data[f"{key}_{i}"] = part_widget.format_value(part) or ""
        else:
            self.data[key] = "" if value is None else widget.format_value(value)
