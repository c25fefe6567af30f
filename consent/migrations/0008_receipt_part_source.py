# A delivery receipt names the source of its part.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0007_algorithms_shown'),
        ('registry', '0007_algorithms'),
    ]

    operations = [
        migrations.AddField(
            model_name='receipt',
            name='part_source',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.service'),
        ),
    ]
