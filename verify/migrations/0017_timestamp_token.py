"""RFC 3161 time-stamps of originals and of every case's chain head (verify/record/timestamps.py).

Every role may read them, as 0012 did for the record's other models; tests/test_roles.py states each role's set.
"""

import django.db.models.deletion
import django.utils.timezone
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

ROLES = ("desk", "reviewer", "editor")


def _view_permission(apps):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.get(content_type__app_label="verify", codename="view_timestamptoken")


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the grant needs this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(_view_permission(apps))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(_view_permission(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0016_extraction_sent_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="TimestampToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "subject",
                    models.CharField(
                        choices=[("original", "Original file"), ("chain_head", "Chain heads of every case")],
                        max_length=12,
                    ),
                ),
                ("digest", models.CharField(max_length=64)),
                ("listing", models.TextField(blank=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Not stamped yet"), ("stamped", "Stamped"), ("failed", "Answer refused")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("reason", models.TextField(blank=True, help_text="Why it is not stamped, in the desk's words.")),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("tsa_url", models.CharField(blank=True, max_length=500, verbose_name="TSA URL")),
                ("token", models.BinaryField(blank=True, null=True)),
                ("gen_time", models.DateTimeField(blank=True, null=True, verbose_name="time stamped")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("stamped_at", models.DateTimeField(blank=True, null=True)),
                (
                    "media_item",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="timestamp_tokens",
                        to="verify.mediaitem",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
                "indexes": [models.Index(fields=["status", "next_attempt_at"], name="timestamp_due")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ["pending", "stamped"])),
                        fields=("subject", "digest"),
                        name="timestamp_one_per_digest",
                    )
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
