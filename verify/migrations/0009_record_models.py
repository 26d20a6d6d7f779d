"""The record's tables: fixity's stored files and passes, and the case events' digest fields."""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0008_link_downloads"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="FixityCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "scope",
                    models.CharField(choices=[("full", "Whole archive"), ("slice", "Next slice")], max_length=10),
                ),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("seconds", models.FloatField(default=0)),
                ("originals_checked", models.PositiveIntegerField(default=0)),
                ("derived_checked", models.PositiveIntegerField(default=0)),
                ("bytes_checked", models.PositiveBigIntegerField(default=0)),
                ("events_checked", models.PositiveIntegerField(default=0)),
                ("cases_checked", models.PositiveIntegerField(default=0)),
                ("last_case_id", models.BigIntegerField(blank=True, null=True)),
                (
                    "findings",
                    models.JSONField(blank=True, default=list, encoder=django.core.serializers.json.DjangoJSONEncoder),
                ),
            ],
            options={
                "ordering": ["-started_at"],
                "get_latest_by": "started_at",
            },
        ),
        migrations.CreateModel(
            name="StoredFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(choices=[("original", "Original"), ("derived", "Derived file")], max_length=10),
                ),
                ("path", models.CharField(max_length=500, unique=True)),
                ("extractor", models.CharField(blank=True, max_length=40)),
                ("sha256", models.CharField(max_length=64)),
                ("size", models.PositiveBigIntegerField()),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_checked_at", models.DateTimeField(blank=True, null=True)),
                ("damaged_at", models.DateTimeField(blank=True, null=True)),
                ("damage", models.TextField(blank=True, help_text="What the check found.")),
            ],
        ),
        migrations.AddField(
            model_name="caseevent",
            name="digest",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="caseevent",
            name="previous_digest",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="caseevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("opened", "Case opened"),
                    ("updated", "Case details changed"),
                    ("stage_changed", "Stage changed"),
                    ("assigned", "Reviewer assigned"),
                    ("unassigned", "Reviewer unassigned"),
                    ("sighting_added", "Sighting added"),
                    ("sighting_changed", "Sighting changed"),
                    ("media_collected", "Media collected"),
                    ("checklist_answered", "Checklist answered"),
                    ("verdict_proposed", "Verdict proposed"),
                    ("verdict_approved", "Verdict approved"),
                    ("verdict_sent_back", "Verdict sent back"),
                    ("file_damaged", "Stored file found damaged"),
                    ("file_repaired", "Stored file repaired"),
                ],
                max_length=24,
            ),
        ),
        migrations.AddField(
            model_name="storedfile",
            name="media_item",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="stored_files", to="verify.mediaitem"
            ),
        ),
        migrations.AddIndex(
            model_name="storedfile",
            index=models.Index(fields=["last_checked_at", "id"], name="stored_file_next_to_check"),
        ),
    ]
