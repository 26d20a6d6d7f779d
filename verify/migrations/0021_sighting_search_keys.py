"""The desk search's indexes: a sighting's normalised link key, its account in lower case, and, on PostgreSQL,
trigram indexes for the words it looks for inside titles, claims, notes, file names, links and captions."""

import django.db.models.functions.text
from django.db import migrations, models

from verify.search.normalise import url_key

BATCH = 500
# Each (table, column) that `icontains` searches: Django compares UPPER(column) LIKE UPPER('%words%'), which a
# GIN trigram index on UPPER(column) answers without reading the table (PostgreSQL only; SQLite scans).
TRIGRAM_COLUMNS = [
    ("verify_case", "title"),
    ("verify_case", "claim"),
    ("verify_checklistitem", "notes"),
    ("verify_mediaitem", "original_name"),
    ("verify_sighting", "url"),
    ("verify_sighting", "account"),
    ("verify_sighting", "caption"),
]


def _trigram_index(table: str, column: str) -> str:
    return f"{table.removeprefix('verify_')}_{column}_trgm"


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: a database owner may create it without being a superuser.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in TRIGRAM_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_trigram_index(table, column)}" '
            f'ON "{table}" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    # The extension stays: other indexes or functions in the database may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, column in TRIGRAM_COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_trigram_index(table, column)}"')


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
        ("verify", "0020_notices"),
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
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
