"""Freeze every case published before publications existed: one publication each, from its approved verdict;
and let every role read publications.

The document is built by the same code that freezes a new approval (verify.record.snapshot), fed
with this migration's historical models; that code reads fields and prefetched relations only.
"""

from importlib import import_module

from django.db import migrations
from django.db.models import F, Prefetch

# The role grants work as in 0007: create the permissions now, then add them to each group.
_grants = import_module("verify.migrations.0007_newer_view_permissions")
READ_PUBLICATIONS = {role: ["view_publication"] for role in ("desk", "reviewer", "editor")}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        _grants.create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role, codenames in READ_PUBLICATIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_grants._permissions(apps, codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, codenames in READ_PUBLICATIONS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*_grants._permissions(apps, codenames))


def _report_cases(apps):
    """Published cases with what a report needs, as `selectors.report_cases` loads them."""
    model = apps.get_model
    Case, CaseMedia, Extraction = model("verify", "Case"), model("verify", "CaseMedia"), model("verify", "Extraction")
    Verdict, MediaRating, Sighting = (
        model("verify", "Verdict"),
        model("verify", "MediaRating"),
        model("verify", "Sighting"),
    )
    ChecklistItem, CaseEvent, Flag = (
        model("verify", "ChecklistItem"),
        model("verify", "CaseEvent"),
        model("verify", "Flag"),
    )
    media = CaseMedia.objects.select_related("media_item").prefetch_related(
        Prefetch("media_item__extractions", queryset=Extraction.objects.order_by("extractor"))
    )
    verdicts = Verdict.objects.select_related("author", "reviewed_by").prefetch_related(
        Prefetch("media_ratings", queryset=MediaRating.objects.select_related("media_item"))
    )
    return Case.objects.filter(stage="published", publications__isnull=True).prefetch_related(
        "tags",
        Prefetch(
            "sightings",
            queryset=Sighting.objects.select_related("media_item").order_by(
                F("posted_at").asc(nulls_last=True), "added_at"
            ),
        ),
        Prefetch("case_media", queryset=media.order_by("added_at", "pk")),
        Prefetch("checklist", queryset=ChecklistItem.objects.order_by("position", "key")),
        Prefetch("verdicts", queryset=verdicts.order_by("-number")),
        Prefetch("events", queryset=CaseEvent.objects.select_related("actor", "media_item").order_by("at", "pk")),
        Prefetch("flags", queryset=Flag.objects.order_by("kind", "pk")),
    )


def snapshot_published(apps, schema_editor):
    from verify.record.snapshot import snapshot_document

    Publication = apps.get_model("verify", "Publication")
    for case in _report_cases(apps):
        approved = [v for v in case.verdicts.all() if v.status == "approved"]
        if not approved:
            continue  # nothing was approved, so nothing may be public; the page stays a 404
        verdict = approved[0]
        approved_at = verdict.reviewed_at or case.updated_at
        document = snapshot_document(case, number=1, kind="first", reason="", approved_at=approved_at, earlier=[])
        Publication.objects.create(
            case=case,
            number=1,
            kind="first",
            verdict=verdict,
            approved_by=verdict.reviewed_by,
            approved_at=approved_at,
            document=document,
        )


class Migration(migrations.Migration):
    dependencies = [("verify", "0014_publication")]

    operations = [
        migrations.RunPython(grant, revoke),
        migrations.RunPython(snapshot_published, migrations.RunPython.noop),
    ]
