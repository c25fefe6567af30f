# Consents and requests name their sources as parts: one or more, each with its data types.

import django.db.models.deletion
from django.db import migrations, models


def sources_from_source(apps, schema_editor):
    """Every request and consent so far had one source: it becomes their first part."""
    for terms, part, field in (("ConsentRequest", "RequestSource", "request"),
                               ("Consent", "ConsentSource", "consent")):
        model, parts = apps.get_model("consent", terms), apps.get_model("consent", part)
        rows = model.objects.prefetch_related("data_types").iterator(chunk_size=500)
        parts.objects.bulk_create(
            (parts(**{field: row}, service_id=row.source_id, position=1,
                   data_types=sorted(t.key for t in row.data_types.all())) for row in rows),
            batch_size=500,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0005_receipts_in_log_order'),
        ('registry', '0006_registry_generation'),
    ]

    operations = [
        migrations.CreateModel(
            name='ConsentSource',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('data_types', models.JSONField(default=list)),
                ('consent', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sources', to='consent.consent')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.service')),
            ],
            options={
                'verbose_name': 'source of a consent',
                'verbose_name_plural': 'sources of consents',
                'ordering': ['position'],
                'abstract': False,
                'indexes': [models.Index(fields=['service', 'consent'], name='consent_source_service')],
                'constraints': [models.UniqueConstraint(fields=('consent', 'service'), name='consent_source_once'), models.UniqueConstraint(fields=('consent', 'position'), name='consent_source_position')],
            },
        ),
        migrations.CreateModel(
            name='RequestSource',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('data_types', models.JSONField(default=list)),
                ('request', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sources', to='consent.consentrequest')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.service')),
            ],
            options={
                'verbose_name': 'source of a consent request',
                'verbose_name_plural': 'sources of consent requests',
                'ordering': ['position'],
                'abstract': False,
                'constraints': [models.UniqueConstraint(fields=('request', 'service'), name='request_source_once'), models.UniqueConstraint(fields=('request', 'position'), name='request_source_position')],
            },
        ),
        migrations.RunPython(sources_from_source, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='consent',
            name='source',
        ),
        migrations.RemoveField(
            model_name='consentrequest',
            name='source',
        ),
    ]
