"""Create the desk's three roles with their permissions, and the default checklist."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

_READ_ALL = [
    "view_case",
    "view_sighting",
    "view_mediaitem",
    "view_casemedia",
    "view_caseevent",
    "view_checklistitem",
    "view_verdict",
    "view_assignment",
    "view_extraction",
    "view_tag",
]
ROLE_PERMISSIONS = {
    "desk": _READ_ALL
    + [
        "add_case",
        "change_case",
        "transition_case",
        "assign_case",
        "add_sighting",
        "change_sighting",
        "add_mediaitem",
        "add_casemedia",
        "add_tag",
    ],
    "reviewer": _READ_ALL
    + ["add_sighting", "change_sighting", "change_checklistitem", "add_verdict", "propose_verdict"],
    "editor": _READ_ALL
    + [
        "add_case",
        "change_case",
        "transition_case",
        "assign_case",
        "add_sighting",
        "change_sighting",
        "add_mediaitem",
        "add_casemedia",
        "add_tag",
        "change_checklistitem",
        "approve_verdict",
        "export_report",
        "view_checklistquestion",
        "add_checklistquestion",
        "change_checklistquestion",
    ],
}

CHECKLIST = [
    ("provenance", "Provenance: is this the original file, or the earliest version we can find?"),
    ("source", "Source: who captured it, and can we reach them?"),
    ("date", "Date: when was it captured?"),
    ("location", "Location: where was it captured?"),
    ("motivation", "Motivation: why was it captured and shared?"),
]


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = Permission.objects.filter(content_type__app_label="verify", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Permissions missing for role {role}: {sorted(missing)}")
        group.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


def create_checklist(apps, schema_editor):
    Question = apps.get_model("verify", "ChecklistQuestion")
    for position, (key, prompt) in enumerate(CHECKLIST):
        Question.objects.get_or_create(key=key, defaults={"prompt": prompt, "position": position, "required": True})


def remove_checklist(apps, schema_editor):
    apps.get_model("verify", "ChecklistQuestion").objects.filter(key__in=[k for k, _ in CHECKLIST]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(create_checklist, remove_checklist),
    ]
