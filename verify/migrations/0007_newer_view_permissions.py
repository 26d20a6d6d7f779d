"""Let every role read the models added after the roles were made (ratings, hashes, flags).

The roles' grants are 0002's ROLE_PERMISSIONS plus NEW_GRANTS here; tests/test_roles.py
states each role's whole set.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

_READ_NEWER = ["view_mediarating", "view_mediahash", "view_flag"]
NEW_GRANTS = {
    "desk": _READ_NEWER,
    # A reviewer's verdict carries a rating of each file, as it carries add_verdict.
    "reviewer": [*_READ_NEWER, "add_mediarating"],
    "editor": _READ_NEWER,
}


def _permissions(apps, codenames):
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="verify", codename__in=codenames)
    missing = set(codenames) - set(perms.values_list("codename", flat=True))
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
    for role, codenames in NEW_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*_permissions(apps, codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for role, codenames in NEW_GRANTS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*_permissions(apps, codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0006_sighting_role"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
