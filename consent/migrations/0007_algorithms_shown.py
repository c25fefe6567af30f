# Consents keep the sink's algorithms as the resident was shown them, and their hash.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0006_sources'),
    ]

    operations = [
        migrations.AddField(
            model_name='consent',
            name='algorithms',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='consent',
            name='algorithms_sha256',
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
