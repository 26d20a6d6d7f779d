"""Case events become append-only in the database: unique digests, no forks, and triggers refusing UPDATE/DELETE."""

from django.db import migrations, models

from verify.record import guard


def install_triggers(apps, schema_editor):
    guard.install(schema_editor.connection)


def remove_triggers(apps, schema_editor):
    guard.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("verify", "0010_chain_existing_events")]

    operations = [
        migrations.AlterField(
            model_name="caseevent",
            name="digest",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
        migrations.AddConstraint(
            model_name="caseevent",
            constraint=models.UniqueConstraint(fields=("case", "previous_digest"), name="case_event_chain_never_forks"),
        ),
        # PostgreSQL or SQLite, by the connection's vendor (see verify/record/guard.py).
        migrations.RunPython(install_triggers, remove_triggers),
    ]
