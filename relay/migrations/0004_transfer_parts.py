# A transfer run has a part per source; every earlier transfer had one source, so one part.

import django.db.models.deletion
from django.db import migrations, models

_PART_STATUS = {"delivered": "delivered", "failed": "failed", "cancelled": "cancelled"}


def one_part_each(apps, schema_editor):
    transfers = apps.get_model("relay", "Transfer")
    parts = apps.get_model("relay", "TransferPart")
    sources = apps.get_model("consent", "ConsentSource")
    first = dict(sources.objects.filter(position=1).values_list("consent_id", "service_id"))
    rows = transfers.objects.iterator(chunk_size=500)
    parts.objects.bulk_create(
        (
            parts(
                transfer=row, number=1, source_id=first[row.consent_id],
                data_types=row.data_types, status=_PART_STATUS.get(row.status, "queued"),
                byte_count=row.byte_count, sha256=row.sha256, content_type=row.content_type,
                error_code=row.error_code,
                delivered_at=row.finished_at if row.status == "delivered" else None,
            )
            for row in rows
        ),
        batch_size=500,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0006_registry_generation'),
        ('relay', '0003_one_unfinished_transfer_per_consent'),
        ('consent', '0006_sources'),
    ]

    operations = [
        migrations.CreateModel(
            name='TransferPart',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('number', models.PositiveSmallIntegerField()),
                ('data_types', models.JSONField(default=list)),
                ('status', models.CharField(choices=[('queued', 'waiting'), ('delivered', 'delivered'), ('failed', 'failed'), ('cancelled', 'cancelled')], default='queued', max_length=20)),
                ('byte_count', models.PositiveBigIntegerField(blank=True, null=True)),
                ('sha256', models.CharField(blank=True, max_length=64)),
                ('content_type', models.CharField(blank=True, max_length=200)),
                ('error_code', models.CharField(blank=True, max_length=60)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('source', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.service')),
                ('transfer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='parts', to='relay.transfer')),
            ],
            options={
                'verbose_name': 'transfer part',
                'verbose_name_plural': 'transfer parts',
                'ordering': ['transfer', 'number'],
            },
        ),
        migrations.AddField(
            model_name='transferattempt',
            name='part',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='attempts', to='relay.transferpart'),
        ),
        migrations.AddConstraint(
            model_name='transferpart',
            constraint=models.UniqueConstraint(fields=('transfer', 'number'), name='transfer_part_number'),
        ),
        migrations.AddField(
            model_name='transferpart',
            name='receipt',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='transfer_part', to='consent.receipt'),
        ),
        migrations.RunPython(one_part_each, migrations.RunPython.noop),
    ]
