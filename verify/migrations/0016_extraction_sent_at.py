"""When each extraction's task was last sent, so the sweep re-sends only lost or unsent ones."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("verify", "0015_snapshot_published_cases")]

    operations = [
        migrations.AddField(
            model_name="extraction",
            name="sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
