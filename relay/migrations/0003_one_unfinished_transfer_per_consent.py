from django.db import migrations, models
from django.db.models import Count
from django.utils import timezone

UNFINISHED = ["queued", "fetching", "delivering"]
# The transfer a consent keeps: the one furthest along, then the oldest.
PROGRESS = {"delivering": 0, "fetching": 1, "queued": 2}


def cancel_extra_unfinished(apps, schema_editor):
    """Before the constraint: end all but one unfinished transfer of each consent.

    Each one ended gets its attempt row (cancelled, `transfer_in_progress`), the
    evidence a try would have left. No notification is sent: the sink sees the
    state when it reads the transfer.
    """
    Transfer = apps.get_model("relay", "Transfer")
    TransferAttempt = apps.get_model("relay", "TransferAttempt")
    crowded = (
        Transfer.objects.filter(status__in=UNFINISHED)
        .values("consent_id")
        .annotate(unfinished=Count("id"))
        .filter(unfinished__gt=1)
        .values_list("consent_id", flat=True)
    )
    now = timezone.now()
    for consent_id in list(crowded):
        rows = Transfer.objects.filter(consent_id=consent_id, status__in=UNFINISHED)
        ordered = sorted(rows, key=lambda t: (PROGRESS[t.status], t.created_at))
        for transfer in ordered[1:]:
            Transfer.objects.filter(pk=transfer.pk).update(
                status="cancelled", finished_at=now, error_code="transfer_in_progress"
            )
            TransferAttempt.objects.create(
                transfer_id=transfer.pk, started_at=now, finished_at=now, outcome="cancelled",
                error="transfer_in_progress", duration_ms=0,
            )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0004_subject_label"),
        ("registry", "0003_append_only"),
        ("relay", "0002_append_only"),
    ]

    operations = [
        migrations.RunPython(cancel_extra_unfinished, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="transfer",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", UNFINISHED)),
                fields=("consent",),
                name="transfer_one_unfinished_per_consent",
            ),
        ),
    ]
