"""Sightings searchable by link and account: the normalised URL's key, and an index on the account in lower case."""

import django.db.models.functions.text
from django.db import migrations, models

from verify.search.normalise import url_key

BATCH = 500


def fill_url_keys(apps, schema_editor):
    Sighting = apps.get_model("verify", "Sighting")
    batch = []
    for sighting in Sighting.objects.exclude(url="").only("pk", "url").iterator(chunk_size=BATCH):
        sighting.url_key = url_key(sighting.url)
        batch.append(sighting)
        if len(batch) == BATCH:
            Sighting.objects.bulk_update(batch, ["url_key"])
            batch = []
    Sighting.objects.bulk_update(batch, ["url_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0019_capture_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="sighting",
            name="url_key",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="sighting",
            index=models.Index(django.db.models.functions.text.Lower("account"), name="sighting_account_lower"),
        ),
        migrations.RunPython(fill_url_keys, migrations.RunPython.noop),
    ]
