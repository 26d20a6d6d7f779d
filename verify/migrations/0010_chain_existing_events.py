"""Chain the events written before the hash chain existed, case by case in the order they were written."""

from django.db import migrations

from verify.record import chain

BATCH = 1000


def chain_existing_events(apps, schema_editor):
    CaseEvent = apps.get_model("verify", "CaseEvent")
    events = CaseEvent.objects.using(schema_editor.connection.alias).select_related("media_item")
    heads, batch = {}, []
    for event in events.order_by("case_id", "pk").iterator(chunk_size=BATCH):
        event.old, event.new = chain.plain_json(event.old), chain.plain_json(event.new)
        event.previous_digest = heads.get(event.case_id, chain.GENESIS)
        event.digest = chain.digest_of(**chain.content_of(event))
        heads[event.case_id] = event.digest
        batch.append(event)
        if len(batch) >= BATCH:
            CaseEvent.objects.bulk_update(batch, ["old", "new", "previous_digest", "digest"])
            batch = []
    if batch:
        CaseEvent.objects.bulk_update(batch, ["old", "new", "previous_digest", "digest"])


class Migration(migrations.Migration):
    dependencies = [("verify", "0009_record_models")]

    operations = [migrations.RunPython(chain_existing_events, migrations.RunPython.noop)]
