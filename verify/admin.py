"""The desk: cases in the Django admin, with every change routed through the services."""

from __future__ import annotations

from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin import widgets as admin_widgets
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import linebreaks_filter
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from verify import intake, media_panel, review_views, search_views, selectors, services, workflow
from verify.bidi import bdi, isolate
from verify.bundle import views as bundle_views
from verify.desk import sightings
from verify.desk.formats import moment, person, size
from verify.desk.history import history_rows
from verify.exports import views as export_views
from verify.models import (
    Assignment,
    Case,
    CaseEvent,
    ChecklistItem,
    ChecklistQuestion,
    MediaItem,
    Platform,
    PlatformCookies,
    Sighting,
    Tag,
    Verdict,
)
from verify.notices.models import mark_case_read
from verify.record import forms as record_forms
from verify.record import views as record_views
from verify.reports import ReportError
from verify.reports import views as report_views
from verify.search import finder
from verify.search import views as desk_search_views
from verify.workflow import EDITOR, REVIEWER, Stage, WorkflowError
from verify.workspace import gallery as workspace_gallery
from verify.workspace import moves as workspace_moves
from verify.workspace import page as workspace_page

User = get_user_model()
MAX_ERRORS_SHOWN = 10


def reviewers() -> QuerySet:
    return selectors.active_reviewers()


def name_of(user, default: str = "system") -> str:
    """A person's full name (verify.desk.formats.person), isolated for HTML: names are text people typed."""
    return bdi(person(user, default=default))


def badge(kind: str, value: str, label: str) -> str:
    return format_html('<span class="vd-badge vd-{}-{}">{}</span>', kind, value, label)


def not_a_reviewer(value) -> str:
    """Why the user with id `value` cannot be assigned to a case, naming them."""
    user = User.objects.filter(pk=value).first() if str(value).isdigit() else None
    if user is None:
        return f"There is no user with id {value!r}; choose a reviewer from the list"
    if not user.is_active:
        return f"{person(user)} is not an active user; only active reviewers can be assigned to cases"
    return f"{person(user)} is not a reviewer; only people with the reviewer role can be assigned to cases"


class ReviewerField(forms.ModelChoiceField):
    """A reviewer picked by id; anyone else is refused by name and the role they lack."""

    def __init__(self, **kwargs):
        super().__init__(queryset=reviewers().order_by("username"), **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            if exc.code != "invalid_choice":
                raise
            raise ValidationError(not_a_reviewer(value), code="invalid_choice") from None


class CaseNumberField(forms.IntegerField):
    """A case number as typed by a person: '12' or '#12'."""

    def to_python(self, value):
        try:
            return super().to_python(value.strip().removeprefix("#") if isinstance(value, str) else value)
        except ValidationError:
            raise ValidationError(f"{value!r} is not a case number", code="invalid") from None


NOTE_MAX_LENGTH = 500


class CaseActionForm(helpers.ActionForm):
    """Extra inputs the list's bulk actions read: a stage, a reviewer, a case to merge into, a reason."""

    INPUTS = ("to_stage", "reviewer", "duplicate_of", "note")

    to_stage = forms.ChoiceField(
        label="stage",
        required=False,
        choices=[("", "— stage —"), *Stage.choices],
        error_messages={
            "invalid_choice": f"%(value)r is not a stage; choose one of: {', '.join(Stage.values)}",
        },
    )
    reviewer = ReviewerField(label="reviewer", required=False, empty_label="— reviewer —")
    duplicate_of = CaseNumberField(
        label="duplicate of case #",
        required=False,
        min_value=1,
        error_messages={"min_value": "%(value)s is not a case number; case numbers start at 1"},
    )
    note = forms.CharField(
        label="reason",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        error_messages={"max_length": "%(show_value)d characters is too long; keep it to %(limit_value)d"},
    )

    def full_clean(self):
        super().full_clean()
        # Django runs no action while this form has errors and says only "No action selected.",
        # so bad inputs are set aside here and the action that reads one names it (`_action_inputs`).
        self.input_errors = {name: self._errors.pop(name) for name in self.INPUTS if name in self._errors}


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("none", "Unassigned"), *((str(u.pk), isolate(person(u))) for u in reviewers().order_by("username"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(assignments__isnull=True)
        if self.value():
            return queryset.filter(assignments__user_id=self.value())
        return queryset


class PlatformFilter(admin.SimpleListFilter):
    title = "platform"
    parameter_name = "platform"

    def lookups(self, request, model_admin):
        return Platform.choices

    def queryset(self, request, queryset):
        return queryset.filter(sightings__platform=self.value()).distinct() if self.value() else queryset


class SensitivityFilter(admin.SimpleListFilter):
    title = "sensitivity"
    parameter_name = "sensitivity"
    FLAGS = {
        "graphic": ("Graphic content", "is_graphic"),
        "personal_data": ("Personal data visible", "shows_personal_data"),
        "source_at_risk": ("Source at risk", "source_at_risk"),
        "none": ("None marked", None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.FLAGS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.FLAGS:
            return queryset
        field = self.FLAGS[self.value()][1]
        if field is None:
            return queryset.filter(is_graphic=False, shows_personal_data=False, source_at_risk=False)
        return queryset.filter(**{field: True})


class TagFilter(admin.RelatedOnlyFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = "No tags"

    def field_choices(self, field, request, model_admin):
        # The tags some case carries, looked up from each tag: Django's own query read every case on
        # each load of the list, a cost that grows with the archive (bench/web_load.py).
        carried = Case.tags.through.objects.filter(tag_id=OuterRef("pk"))
        return [(tag.pk, str(tag)) for tag in Tag.objects.filter(Exists(carried)).order_by("name")]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IsolatedRawIdWidget(admin_widgets.ForeignKeyRawIdWidget):
    """The raw-id box, with the chosen object's name beside it isolated (see verify.bidi)."""

    def label_and_url_for_value(self, value):
        label, url = super().label_and_url_for_value(value)
        return isolate(label), url


class SightingInline(admin.TabularInline):
    model = Sighting
    # The form reviewers add sightings with too (verify.desk.sightings): one set of checks.
    form = sightings.SightingForm
    extra = 0
    fields = [*sightings.SIGHTING_FIELDS, "capture_post"]
    raw_id_fields = ["media_item"]
    can_delete = False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        kwargs = {**sightings.FIELD_OPTIONS.get(db_field.name, {}), **kwargs}
        if db_field.name == "media_item":
            kwargs["widget"] = IsolatedRawIdWidget(db_field.remote_field, self.admin_site)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class AssignmentInline(ReadOnlyInline):
    model = Assignment
    fields = ["role", "reviewer", "assigned_by_name", "since"]
    readonly_fields = fields

    @admin.display(description="reviewer")
    def reviewer(self, assignment):
        return name_of(assignment.user)

    @admin.display(description="assigned by")
    def assigned_by_name(self, assignment):
        return name_of(assignment.assigned_by)

    @admin.display(description="since")
    def since(self, assignment):
        return moment(assignment.assigned_at)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "assigned_by")


class ChecklistInline(ReadOnlyInline):
    model = ChecklistItem
    verbose_name_plural = "checklist"
    fields = ["prompt", "required_text", "status", "notes", "answered_by", "answered_at"]
    readonly_fields = fields

    @admin.display(description="required")
    def required_text(self, item):
        return "required" if item.required else "optional"

    @admin.display(description="answered by")
    def answered_by(self, item):
        return name_of(item.updated_by, default="—")

    @admin.display(description="answered")
    def answered_at(self, item):
        return moment(item.updated_at) if item.updated_by_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("updated_by")


class VerdictInline(ReadOnlyInline):
    """Every version of the verdict in full, newest first: what an earlier, sent-back version said stays readable."""

    model = Verdict
    verbose_name_plural = "verdict history"
    template = "admin/edit_inline/stacked.html"
    fields = [
        ("status", "author_name", "proposed"),
        ("rating", "confidence", "media_category"),
        "summary",
        "rationale_text",
        "evidence_list",
        "file_ratings",
        ("reviewer_name", "reviewed"),
        "review_note",
    ]
    readonly_fields = [
        "status",
        "author_name",
        "proposed",
        "rating",
        "confidence",
        "media_category",
        "summary",
        "rationale_text",
        "evidence_list",
        "file_ratings",
        "reviewer_name",
        "reviewed",
        "review_note",
    ]

    @admin.display(description="author")
    def author_name(self, verdict):
        return name_of(verdict.author)

    @admin.display(description="proposed")
    def proposed(self, verdict):
        return moment(verdict.proposed_at)

    @admin.display(description="reviewed by")
    def reviewer_name(self, verdict):
        return name_of(verdict.reviewed_by, default="—")

    @admin.display(description="reviewed")
    def reviewed(self, verdict):
        return moment(verdict.reviewed_at)

    @admin.display(description="rationale")
    def rationale_text(self, verdict):
        # As the template filter does: each paragraph escaped, then wrapped in <p>.
        return linebreaks_filter(isolate(verdict.rationale), autoescape=True)

    @admin.display(description="evidence")
    def evidence_list(self, verdict):
        rows = [
            format_html(
                '{}: <a href="{}" rel="noopener noreferrer">{}</a>', e.get("kind"), e["url"], bdi(e.get("label"))
            )
            if e.get("url")
            else format_html("{}: {}", e.get("kind"), bdi(e.get("label")))
            for e in verdict.evidence
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((row,) for row in rows)) or "—"

    @admin.display(description="each file (MediaReview)")
    def file_ratings(self, verdict):
        rows = [
            (
                bdi(r.media_item.original_name or str(r.media_item)),
                r.get_category_display(),
                format_html(" — {}", bdi(r.original_context)) if r.original_context else "",
            )
            for r in verdict.media_ratings.all()
        ]
        return format_html_join(mark_safe("<br>"), "{}: <b>{}</b>{}", rows) or "—"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("author", "reviewed_by")
            .prefetch_related("media_ratings__media_item")
        )


class CaseEventInline(ReadOnlyInline):
    """The history, drawn from `history` in the page's context (verify.desk.history) rather than one form per event."""

    model = CaseEvent
    verbose_name_plural = "history"
    template = "admin/verify/case/history_inline.html"
    fields = ["kind"]

    def get_queryset(self, request):
        return super().get_queryset(request).none()


def _report(request: HttpRequest, done: int, errors: list[str], what: str) -> None:
    if done:
        messages.success(request, f"{what}: {done} case(s) done.")
    for error in errors[:MAX_ERRORS_SHOWN]:
        messages.error(request, error)
    if len(errors) > MAX_ERRORS_SHOWN:
        messages.error(request, f"…and {len(errors) - MAX_ERRORS_SHOWN} more case(s) were refused.")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "stage_badge", "priority_badge", "assignees", "media_count", "deadline_display"]
    list_display_links = ["id", "title"]
    list_filter = [
        "stage",
        AssigneeFilter,
        "priority",
        PlatformFilter,
        ("tags", TagFilter),
        SensitivityFilter,
    ]
    search_fields = ["title", "claim", "sightings__url", "sightings__account"]
    list_per_page = 50
    action_form = CaseActionForm
    actions = ["assign_to_me", "assign_lead", "assign_second", "move_to_stage", "mark_duplicate"]
    autocomplete_fields = ["tags"]
    view_on_site = False
    # Carries the version token: a save over changes made since the page was opened is refused.
    form = record_forms.VersionedCaseForm
    readonly_fields = ["stage_badge", "next_moves", "duplicate_of", "created_by_name", "opened"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "claim",
                    ("stage_badge", "next_moves"),
                    "duplicate_of",
                    ("case_version", "seen_event"),
                ]
            },
        ),
        ("Priority", {"fields": [("priority", "deadline"), "tags"]}),
        ("Sensitivity", {"fields": [("is_graphic", "shows_personal_data", "source_at_risk")]}),
        (
            "Claimed place and time",
            {"fields": ["claimed_place", ("claimed_latitude", "claimed_longitude"), "claimed_at"]},
        ),
        ("Record", {"fields": [("created_by_name", "opened")], "classes": ["collapse"]}),
    ]
    # Media has its own gallery on the case page (verify/workspace/, templates/admin/verify/case/workspace/).
    inlines = [SightingInline, AssignmentInline, ChecklistInline, VerdictInline, CaseEventInline]

    class Media:
        css = {"all": ["verify/desk.css"]}

    def get_queryset(self, request):
        return selectors.case_list(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        """The list's search box finds what the desk search finds (verify.search): hashes, links, accounts, words."""
        if not search_term.strip():
            return queryset, False
        try:
            term = finder.SearchTerm.parse(search_term)
        except finder.SearchTermError as exc:
            messages.warning(request, str(exc))
            return queryset.none(), False
        return queryset.filter(finder.case_filter(term)), False

    def action_checkbox(self, obj):
        """Each row's checkbox, the markup Django's CheckboxInput gives, written directly: rendering the widget's
        template once per row was a quarter of the case list's time (bench/web_load.py)."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            label,
        )

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(partial(view, self))

        return [
            path("my-queue/", wrap(review_views.my_queue_view), name="verify_case_my_queue"),
            path("workload/", wrap(review_views.workload_view), name="verify_case_workload"),
            path("search-by-file/", wrap(search_views.search_by_file_view), name="verify_case_search_by_file"),
            path("search/", wrap(desk_search_views.desk_search_view), name="verify_case_search"),
            path("export/<str:fmt>/", wrap(CaseAdmin.export_view), name="verify_case_export"),
            path("exports/<int:job_id>/", wrap(export_views.export_job_view), name="verify_case_export_job"),
            path(
                "exports/<int:job_id>/download/",
                wrap(export_views.export_download_view),
                name="verify_case_export_download",
            ),
            path("<int:case_id>/report.<str:fmt>", wrap(CaseAdmin.case_report_view), name="verify_case_report"),
            path("<int:case_id>/add-media/", wrap(media_panel.add_media_view), name="verify_case_add_media"),
            path("<int:case_id>/media-panel/", wrap(workspace_page.media_panel_view), name="verify_case_media_panel"),
            path("<int:case_id>/live/", wrap(workspace_page.live_view), name="verify_case_live"),
            path("<int:case_id>/move/", wrap(workspace_moves.move_view), name="verify_case_move"),
            path(
                "<int:case_id>/media/<int:item_id>/details/",
                wrap(workspace_gallery.file_details_view),
                name="verify_case_file_details",
            ),
            path("<int:case_id>/story/", wrap(media_panel.story_view), name="verify_case_story"),
            path(
                "<int:case_id>/recapture/<int:capture_id>/",
                wrap(media_panel.recapture_view),
                name="verify_case_recapture",
            ),
            path("<int:case_id>/checklist/", wrap(review_views.checklist_view), name="verify_case_checklist"),
            path("<int:case_id>/add-sighting/", wrap(sightings.add_sighting_view), name="verify_case_add_sighting"),
            path("<int:case_id>/assign/", wrap(review_views.assign_view), name="verify_case_assign"),
            path("<int:case_id>/reopen/", wrap(record_views.reopen_view), name="verify_case_reopen"),
            path(
                "<int:case_id>/evidence-bundle.zip",
                wrap(bundle_views.bundle_download_view),
                name="verify_case_bundle",
            ),
            path(
                "<int:case_id>/propose-verdict/",
                wrap(review_views.propose_verdict_view),
                name="verify_case_propose_verdict",
            ),
            path(
                "<int:case_id>/review-verdict/",
                wrap(review_views.review_verdict_view),
                name="verify_case_review_verdict",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        if request.user.has_perm("verify.export_report"):
            extra_context["export_links"] = [
                (f"Export {fmt.upper()}", reverse("admin:verify_case_export", args=[fmt])) for fmt in ("csv", "json")
            ]
        return super().changelist_view(request, extra_context)

    def export_view(self, request, fmt: str):
        """The cases the list's current filters and search select, as CSV or JSON (verify/exports/)."""
        return export_views.export_view(self, request, fmt)

    def case_report_view(self, request, case_id: int, fmt: str):
        """One case's verdict as a PDF, or its ClaimReview JSON-LD once published."""
        if not request.user.has_perm("verify.export_report"):
            raise PermissionDenied
        case = get_object_or_404(Case, pk=case_id)
        formats = {"pdf": report_views.pdf_response, "jsonld": report_views.jsonld_response}
        try:
            if fmt not in formats:
                raise ReportError(
                    f"Unknown report format {fmt!r}; one case's report comes as: {', '.join(formats)} "
                    "(CSV and JSON export a set of cases, from the case list)"
                )
            return formats[fmt](case)
        except ReportError as exc:
            messages.error(request, str(exc))
            return redirect(reverse("admin:verify_case_change", args=[case.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if case is not None:
            extra_context.update(workspace_page.workspace_context(request, case))
            extra_context["map_tile_url"] = settings.MAP_TILE_URL
            extra_context["can_add_media"] = bool(workflow.roles_of(request.user) & intake.INTAKE_ROLES)
            extra_context["work_links"] = work_links(case, request.user)
            extra_context["history"] = history_rows(list(case.events.select_related("actor")))
            if request.method == "GET":
                mark_case_read(request.user, case)  # what the notices said is in front of them now
            if case.stage == Stage.PUBLISHED:
                extra_context["frozen_notice"] = record_views.FROZEN_NOTICE
        return super().change_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_transition_permission(self, request):
        return request.user.has_perm("verify.transition_case")

    def has_assign_permission(self, request):
        return request.user.has_perm("verify.assign_case")

    def has_take_permission(self, request):
        return REVIEWER in workflow.roles_of(request.user)

    # List columns

    @admin.display(description="stage", ordering="stage")
    def stage_badge(self, case):
        return badge("stage", case.stage, case.get_stage_display())

    @admin.display(description="priority", ordering="priority")
    def priority_badge(self, case):
        return badge("priority", case.get_priority_display().lower(), case.get_priority_display())

    @admin.display(description="assignees")
    def assignees(self, case):
        people = [
            (name_of(a.user), "lead" if a.role == Assignment.Role.LEAD else "2nd") for a in case.assignments.all()
        ]
        return format_html_join(", ", "{} <small>({})</small>", people) or "—"

    @admin.display(description="media", ordering="media_count")
    def media_count(self, case):
        return case.media_count

    @admin.display(description="deadline", ordering="deadline")
    def deadline_display(self, case):
        if not case.deadline:
            return "—"
        text = moment(case.deadline)
        return format_html('<span class="vd-overdue">{} (overdue)</span>', text) if case.is_overdue else text

    @admin.display(description="opened")
    def opened(self, case):
        return moment(case.created_at)

    @admin.display(description="opened by")
    def created_by_name(self, case):
        return name_of(case.created_by, default="system (seed data or intake)")

    @admin.display(description="can move to")
    def next_moves(self, case):
        moves = [
            t.target.label + (f" (by: {t.only_via})" if t.only_via else "") for t in workflow.moves_from(case.stage)
        ]
        return ", ".join(moves) or "— (closed)"

    # Saving: every write goes through a service so it lands in the timeline.

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in services.CASE_DETAIL_FIELDS}
        if change:
            if "tags" in form.changed_data:
                changed["tags"] = list(form.cleaned_data["tags"])
            services.update_case(case=obj, by=request.user, changes=changed, token=form.token())
            return
        details = {k: v for k, v in changed.items() if k not in ("title", "claim")}
        tags = [t.name for t in form.cleaned_data.get("tags", [])]
        created = services.open_case(
            by=request.user, title=form.cleaned_data["title"], claim=form.cleaned_data["claim"], tags=tags, **details
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # Tags were saved by the service with the case; only the inlines remain.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Sighting:
            return super().save_formset(request, form, formset, change)
        # The admin's change message reads these lists after saving.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for sighting_form in formset.forms:
            if not sighting_form.has_changed() or not sighting_form.cleaned_data:
                continue
            data = sighting_form.sighting_fields()
            if sighting_form.instance.pk:
                changed = [name for name in sighting_form.changed_data if name in data]
                sighting = services.update_sighting(
                    sighting=sighting_form.instance, by=request.user, changes={name: data[name] for name in changed}
                )
                formset.changed_objects.append((sighting, changed))
            else:
                sighting = services.add_sighting(case=form.instance, by=request.user, **data)
                formset.new_objects.append(sighting)
            if sighting_form.cleaned_data.get("capture_post"):
                self._capture_sighting(request, sighting)

    def _capture_sighting(self, request, sighting: Sighting) -> None:
        # The form refuses a capture without a URL.
        for problem in media_panel.queue_post_capture(
            request, sighting.case, sighting.url, sighting=sighting, trigger="sighting"
        ):
            messages.error(request, problem)

    # Bulk actions

    def _each(self, request, queryset, what: str, do) -> None:
        done, errors = 0, []
        for case in queryset:
            try:
                do(case)
                done += 1
            except (WorkflowError, ValidationError) as exc:
                errors.append(f"Case #{case.pk}: {_message(exc)}")
        _report(request, done, errors, what)

    def _action_inputs(self, request, *names: str) -> dict | None:
        """The inputs `names` next to the action, or None after telling the user what is wrong with each bad one."""
        form = CaseActionForm(request.POST)
        form.is_valid()
        bad = [name for name in names if name in form.input_errors]
        for name in bad:
            messages.error(request, f"{form.fields[name].label.capitalize()}: {' '.join(form.input_errors[name])}")
        return None if bad else {name: form.cleaned_data.get(name) for name in names}

    @admin.action(description="Assign to me (lead; desk and editors join a led case as second)", permissions=["take"])
    def assign_to_me(self, request, queryset):
        # Second on a led case; refused by the service (which says why) past TAKE_NEXT_CAP or where not allowed.
        self._each(request, queryset, "Assigned to you", lambda case: services.take_case(case=case, by=request.user))

    def _assign(self, request, queryset, role):
        if (inputs := self._action_inputs(request, "reviewer")) is None:
            return
        reviewer = inputs["reviewer"]
        if reviewer is None:
            messages.error(request, "Choose a reviewer in the 'reviewer' box next to the action, then run it again.")
            return
        label = f"Assigned {person(reviewer)} as {Assignment.Role(role).label.lower()}"
        self._each(
            request,
            queryset,
            label,
            lambda case: services.assign_reviewer(case=case, user=reviewer, by=request.user, role=role),
        )

    @admin.action(description="Assign the chosen reviewer as lead", permissions=["assign"])
    def assign_lead(self, request, queryset):
        self._assign(request, queryset, Assignment.Role.LEAD)

    @admin.action(description="Assign the chosen reviewer as second reviewer", permissions=["assign"])
    def assign_second(self, request, queryset):
        self._assign(request, queryset, Assignment.Role.SECOND)

    @admin.action(description="Move to the chosen stage", permissions=["transition"])
    def move_to_stage(self, request, queryset):
        if (inputs := self._action_inputs(request, "to_stage", "note")) is None:
            return
        if not inputs["to_stage"]:
            messages.error(request, "Choose a stage in the 'stage' box next to the action, then run it again.")
            return
        stage, note = Stage(inputs["to_stage"]), inputs["note"]
        self._each(
            request,
            queryset,
            f"Moved to {stage.label}",
            lambda case: services.transition_case(case=case, to=stage, by=request.user, note=note),
        )

    @admin.action(description="Mark as duplicate of the case # given", permissions=["transition"])
    def mark_duplicate(self, request, queryset):
        if (inputs := self._action_inputs(request, "duplicate_of", "note")) is None:
            return
        target_id, note = inputs["duplicate_of"], inputs["note"]
        survivor = Case.objects.filter(pk=target_id).first() if target_id else None
        if survivor is None:
            messages.error(
                request,
                f"No case #{target_id} exists."
                if target_id
                else "Give the surviving case's number in 'duplicate of case #'.",
            )
            return
        self._each(
            request,
            queryset,
            f"Marked as duplicate of #{survivor.pk}",
            lambda case: services.mark_duplicate(case=case, of=survivor, by=request.user, note=note),
        )


def work_links(case: Case, user) -> list[tuple[str, str]]:
    """The buttons a person's role and the case's stage call for on the case page."""
    roles = workflow.roles_of(user)
    assigned = case.assignments.filter(user=user).exists()
    links = []
    if user.has_perm("verify.assign_case") and case.stage not in workflow.CLOSED_STAGES:
        links.append(("Reviewers", reverse("admin:verify_case_assign", args=[case.pk])))
    if (assigned or EDITOR in roles) and case.stage in (Stage.TRIAGE, Stage.COLLECTING, Stage.IN_REVIEW):
        links.append(("Checklist", reverse("admin:verify_case_checklist", args=[case.pk])))
    if assigned and REVIEWER in roles and case.stage not in workflow.CLOSED_STAGES:
        links.append(("Add a sighting", reverse("admin:verify_case_add_sighting", args=[case.pk])))
    if assigned and REVIEWER in roles and case.stage == Stage.IN_REVIEW:
        links.append(("Propose verdict", reverse("admin:verify_case_propose_verdict", args=[case.pk])))
    if EDITOR in roles and case.stage == Stage.AWAITING_APPROVAL:
        links.append(("Review verdict", reverse("admin:verify_case_review_verdict", args=[case.pk])))
    if user.has_perm("verify.export_report") and case.verdicts.exists():
        links.append(("PDF report", reverse("admin:verify_case_report", args=[case.pk, "pdf"])))
    if user.has_perm("verify.export_report"):
        links.append(("Download evidence bundle", reverse("admin:verify_case_bundle", args=[case.pk])))
    if case.stage == Stage.PUBLISHED and EDITOR in roles:
        links.append(("Reopen for a correction or update", reverse("admin:verify_case_reopen", args=[case.pk])))
    if case.stage == Stage.PUBLISHED:
        links.append(("Public page", reverse("public-verdict", args=[case.pk])))
    return links


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["when", "case", "kind", "by", "note"]
    list_filter = ["kind"]
    search_fields = ["case__title", "note"]
    list_select_related = ["case", "actor"]
    date_hierarchy = "at"

    @admin.display(description="when", ordering="at")
    def when(self, event):
        return moment(event.at)

    @admin.display(description="by", ordering="actor")
    def by(self, event):
        return name_of(event.actor)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MediaItem)
class MediaItemAdmin(admin.ModelAdmin):
    list_display = ["sha256", "kind", "original_name", "file_size", "collector", "collected"]
    list_filter = ["kind"]
    list_select_related = ["collected_by"]
    search_fields = ["sha256", "original_name"]
    readonly_fields = [f.name for f in MediaItem._meta.fields]

    @admin.display(description="size", ordering="size")
    def file_size(self, item):
        return size(item.size)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The file's page lists every case it is in and where it was seen (templates/admin/verify/mediaitem/).
        item = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if item is not None:
            extra_context["case_links"] = selectors.media_item_cases(item)
            extra_context["sightings"] = selectors.media_item_sightings(item)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="collected by", ordering="collected_by")
    def collector(self, item):
        return name_of(item.collected_by)

    @admin.display(description="collected", ordering="collected_at")
    def collected(self, item):
        return moment(item.collected_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChecklistQuestion)
class ChecklistQuestionAdmin(admin.ModelAdmin):
    list_display = ["position", "key", "prompt", "required", "active"]
    list_display_links = ["key"]
    list_editable = ["position", "required", "active"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class PlatformCookiesForm(forms.ModelForm):
    cookies = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80, "autocomplete": "off"}),
        help_text="Paste the cookie file (Netscape format) of an account the desk uses on this platform. "
        "It is never shown again, and stays out of exports, events and logs; paste a new one to replace it.",
    )

    class Meta:
        model = PlatformCookies
        fields = ["platform", "cookies"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["cookies"] = ""  # write-only: the secret is never sent back to a browser


@admin.register(PlatformCookies)
class PlatformCookiesAdmin(admin.ModelAdmin):
    form = PlatformCookiesForm
    list_display = ["platform", "updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by, obj.updated_at = request.user, timezone.now()
        super().save_model(request, obj, form, change)


from verify.record import admin as record_admin  # noqa: E402, F401 - fixity passes and stored files
