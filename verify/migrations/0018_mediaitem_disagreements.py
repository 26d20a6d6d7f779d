from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("verify", "0017_timestamp_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="mediaitem",
            name="disagreements",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Where the readers read a different make, model, capture time or GPS.",
            ),
        ),
    ]
