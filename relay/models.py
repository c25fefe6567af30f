import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from common.headers import MAX_CONTENT_TYPE_LENGTH
from common.models import Attempt
from consent.models import Consent, Receipt
from registry.models import Organisation, Service


class Transfer(models.Model):
    """One run that relays a consent's data from its sources to its sink: also the relay's
    outbox row. It has a part per source (TransferPart), each fetched and delivered
    on its own; a frequency limit counts runs, not parts.

    The bodies are never stored: only their sizes, SHA-256 digests and content
    types. `byte_count` is the delivered parts' total; `sha256` and
    `content_type` are the one part's, when the run has one part.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        FETCHING = "fetching", _("fetching")
        DELIVERING = "delivering", _("delivering")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="transfers")
    # The sink's organisation at request time: idempotency keys are scoped to it.
    requested_by = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    # Made by the schedule of a recurring consent, not asked for by the sink.
    scheduled = models.BooleanField(default=False)
    # The data types asked of the source: the consent's, or a part of them.
    data_types = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    byte_count = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # As the source declared it, checked against RFC 9110 and this length (common/headers.py).
    content_type = models.CharField(max_length=MAX_CONTENT_TYPE_LENGTH, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            # A key names one transfer per sink organisation: a repeat finds it, not a twin.
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="transfer_idempotency_key",
            ),
            # One transfer at a time under a consent: whatever races past the check in
            # relay.services, the second unfinished row cannot be written.
            models.UniqueConstraint(
                fields=["consent"],
                condition=models.Q(status__in=["queued", "fetching", "delivering"]),
                name="transfer_one_unfinished_per_consent",
            ),
        ]
        indexes = [
            # The sweeper looks for unfinished transfers whose time has come.
            models.Index(fields=["status", "next_attempt_at"], name="transfer_due"),
            # The frequency limit counts a consent's transfers by status and time.
            models.Index(
                fields=["consent", "status", "created_at"], name="transfer_consent_status"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


FINAL_STATUSES = (
    Transfer.Status.DELIVERED,
    Transfer.Status.FAILED,
    Transfer.Status.CANCELLED,
)
UNFINISHED_STATUSES = (
    Transfer.Status.QUEUED,
    Transfer.Status.FETCHING,
    Transfer.Status.DELIVERING,
)


class TransferPart(models.Model):
    """One source's part of a transfer run: fetched from that source, delivered to the sink
    with its own Idempotency-Key (`<transfer id>.<number>`), evidenced by its own receipt.

    A part delivered stays delivered: a later try of the run fetches only the
    parts still `queued`.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    id = models.BigAutoField(primary_key=True)
    # PROTECT: a part is evidence of what moved, as its transfer is.
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="parts")
    number = models.PositiveSmallIntegerField()
    source = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    # The keys asked of this source: the consent's for it, or the part of them the sink named.
    data_types = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    byte_count = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    content_type = models.CharField(max_length=MAX_CONTENT_TYPE_LENGTH, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The signed evidence that this part reached the sink.
    receipt = models.OneToOneField(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="transfer_part"
    )

    class Meta:
        ordering = ["transfer", "number"]
        verbose_name = _("transfer part")
        verbose_name_plural = _("transfer parts")
        constraints = [
            # Numbered 1, 2, … once each: the number is in the part's Idempotency-Key.
            models.UniqueConstraint(fields=["transfer", "number"], name="transfer_part_number"),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}.{self.number}"

    @property
    def idempotency_key(self) -> str:
        return f"{self.transfer_id}.{self.number}"


class TransferAttempt(Attempt):
    """One try at relaying one part of a transfer, whatever came of it; a try that stopped
    before any part (the consent withdrawn, the run ended by the sweeper) names none."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("delivered")
        RETRY = "retry", _("will retry")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    # PROTECT: an attempt is evidence, never deleted (common/evidence.py), nor is its transfer.
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="attempt_rows")
    part = models.ForeignKey(
        TransferPart, null=True, blank=True, on_delete=models.PROTECT, related_name="attempts"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)

    class Meta(Attempt.Meta):
        verbose_name = _("transfer attempt")
        verbose_name_plural = _("transfer attempts")

    def __str__(self) -> str:
        return f"{self.transfer_id} {self.outcome}"
