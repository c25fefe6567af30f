"""What a resident brought along from another operator: read-only history, kept as it came."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from consent.models import Consent


class ImportedHistory(models.Model):
    """One export from another operator, verified and imported into a resident's account.

    An account at the issuing operator is imported once, into one account here:
    `(operator, account)` is unique.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="imported_histories"
    )
    operator = models.URLField(max_length=2000)
    # The issuing operator's pseudonymous id of the resident's account there.
    account = models.CharField(max_length=64)
    exported_at = models.DateTimeField()
    imported_at = models.DateTimeField(auto_now_add=True)
    # SHA-256 of the export's canonical JSON: what the issuing operator signed.
    sha256 = models.CharField(max_length=64)
    # The whole verified export (its `export` object and `signature`), as it came.
    document = models.JSONField()

    class Meta:
        ordering = ["-imported_at"]
        verbose_name = _("imported history")
        verbose_name_plural = _("imported histories")
        constraints = [
            # One account elsewhere moves into one account here, once.
            models.UniqueConstraint(fields=["operator", "account"], name="import_once"),
        ]

    def __str__(self) -> str:
        return f"{self.operator} {self.account[:8]}"


class ImportedConsent(models.Model):
    """A consent as the issuing operator stated it: its terms, its status when exported."""

    history = models.ForeignKey(ImportedHistory, on_delete=models.CASCADE, related_name="consents")
    original_id = models.UUIDField()
    status = models.CharField(max_length=20)
    sink_slug = models.CharField(max_length=60)
    sink_business_id = models.CharField(max_length=20)
    sink_name = models.JSONField()
    # [{"slug", "business_id", "name", "data_types"}] in the consent's order.
    sources = models.JSONField()
    valid_until = models.DateTimeField()
    created_at = models.DateTimeField()
    terms = models.JSONField()

    class Meta:
        ordering = ["history", "-created_at"]
        verbose_name = _("imported consent")
        verbose_name_plural = _("imported consents")

    def __str__(self) -> str:
        return str(self.original_id)

    def status_shown(self) -> str:
        """The status in the reader's language, with this operator's words for a consent's;
        one this operator has no word for is shown as the issuing operator wrote it."""
        if self.status in Consent.Status.values:
            return str(Consent.Status(self.status).label)
        return self.status


class ImportedReceipt(models.Model):
    """A receipt the issuing operator signed, with its inclusion proof in that operator's log."""

    history = models.ForeignKey(ImportedHistory, on_delete=models.CASCADE, related_name="receipts")
    original_id = models.UUIDField()
    event = models.CharField(max_length=40)
    consent_id = models.UUIDField(null=True, blank=True)
    log_index = models.BigIntegerField()
    jws = models.TextField()
    inclusion = models.JSONField()

    class Meta:
        ordering = ["history", "log_index"]
        verbose_name = _("imported receipt")
        verbose_name_plural = _("imported receipts")

    def __str__(self) -> str:
        return str(self.original_id)
