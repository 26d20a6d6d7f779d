"""Let every role read the record's fixity passes and stored files, as 0007 did for the models before them.

tests/test_roles.py states each role's whole set.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_RECORD = ["view_fixitycheck", "view_storedfile"]
ROLES = ("desk", "reviewer", "editor")


def _permissions(apps):
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="verify", codename__in=READ_RECORD)
    missing = set(READ_RECORD) - set(perms.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"Permissions missing: {sorted(missing)}")
    return perms


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the grants need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [("verify", "0011_append_only_events")]

    operations = [migrations.RunPython(grant, revoke)]
