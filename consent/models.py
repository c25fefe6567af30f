import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.models import DataType, LocalizedMixin, Service, ServiceLink


class Frequency(models.TextChoices):
    ONE_OFF = "one_off", _("once")
    RECURRING = "recurring", _("repeatedly")


class Period(models.TextChoices):
    DAY = "day", _("day")
    WEEK = "week", _("week")
    MONTH = "month", _("month")


class PurposeCategory(models.TextChoices):
    SERVICE = "service_provision", _("providing a service you use")
    WELLBEING = "wellbeing", _("supporting your health and wellbeing")
    RELOCATION = "relocation", _("moving your records to a new home municipality")
    CONTACT = "contact", _("contacting you")
    RESEARCH = "research", _("research")
    STATISTICS = "statistics", _("statistics")


def new_pseudonym() -> str:
    return secrets.token_urlsafe(24)


class ConsentTerms(LocalizedMixin, models.Model):
    """What a resident is asked to agree to; shared by requests and consents."""

    source = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    sink = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    data_types = models.ManyToManyField(DataType, related_name="+")
    purpose_fi = models.TextField()
    purpose_sv = models.TextField()
    purpose_en = models.TextField()
    purpose_category = models.CharField(max_length=40, choices=PurposeCategory.choices)
    valid_until = models.DateTimeField()
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    frequency_limit = models.PositiveIntegerField(null=True, blank=True)
    frequency_period = models.CharField(max_length=10, choices=Period.choices, blank=True)
    # The resident's name in this request's and its consent's receipts: random and
    # used nowhere else, so that services receiving receipts cannot join residents.
    principal = models.CharField(max_length=64, default=new_pseudonym, editable=False)

    class Meta:
        abstract = True

    def terms(self) -> dict:
        """The terms as receipts and the API state them."""
        return {
            "purpose": {lang: getattr(self, f"purpose_{lang}") for lang in ("fi", "sv", "en")},
            "purpose_category": self.purpose_category,
            "valid_until": self.valid_until.isoformat(),
            "frequency": {
                "kind": self.frequency,
                "limit": self.frequency_limit,
                "period": self.frequency_period or None,
            },
        }


class ConsentRequest(ConsentTerms):
    """A sink's request for a resident's consent, answered once on the consent screen."""

    class Status(models.TextChoices):
        OPEN = "open", _("waiting for an answer")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    return_url = models.URLField(max_length=2000)
    state = models.CharField(max_length=500, blank=True)
    subject_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("consent request")
        verbose_name_plural = _("consent requests")

    def __str__(self) -> str:
        return str(self.id)


class Consent(ConsentTerms):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        WITHDRAWN = "withdrawn", _("withdrawn")
        EXPIRED = "expired", _("expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    request = models.OneToOneField(ConsentRequest, on_delete=models.PROTECT, related_name="consent")
    language = models.CharField(max_length=5)
    notice_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [
            # Expiry sweeps and "my consents" lists filter on these.
            models.Index(fields=["status", "valid_until"], name="consent_status_valid"),
            models.Index(fields=["resident", "status"], name="consent_resident_status"),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.PAUSED)


class Receipt(models.Model):
    """A signed record of one event: append-only, and a leaf of the receipt log."""

    class Event(models.TextChoices):
        GRANTED = "consent.granted", _("consent given")
        REFUSED = "consent.refused", _("consent refused")
        PAUSED = "consent.paused", _("consent paused")
        RESUMED = "consent.resumed", _("consent resumed")
        WITHDRAWN = "consent.withdrawn", _("consent withdrawn")
        EXPIRED = "consent.expired", _("consent expired")
        LINK_CREATED = "link.created", _("account linked")
        LINK_REMOVED = "link.removed", _("account link removed")
        DELIVERED = "transfer.delivered", _("data delivered")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    log_index = models.BigIntegerField(unique=True)
    event = models.CharField(max_length=40, choices=Event.choices)
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    request = models.ForeignKey(
        ConsentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    link = models.ForeignKey(
        ServiceLink, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    jws = models.TextField()
    sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["log_index"]
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")

    def __str__(self) -> str:
        return f"#{self.log_index} {self.event}"


class Checkpoint(models.Model):
    """A signed statement of the receipt log's size and root at a moment."""

    # One checkpoint per size: the root of a size never changes, so a second says nothing new.
    tree_size = models.BigIntegerField(unique=True)
    root = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    jws = models.TextField()

    class Meta:
        ordering = ["-tree_size", "-id"]
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")

    def __str__(self) -> str:
        return f"{self.tree_size} {self.root[:12]}"


class LogHead(models.Model):
    """The receipt log's current size: one row, locked by every append."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    tree_size = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("receipt log head")
        constraints = [
            # There is one log; a second head row would fork it.
            models.CheckConstraint(condition=models.Q(id=1), name="log_head_singleton"),
        ]

    def __str__(self) -> str:
        return f"receipt log of {self.tree_size}"


class LogNode(models.Model):
    """The hash of a perfect subtree of the receipt log (RFC 6962 hashing).

    Level 0 holds leaf hashes; the node at (level, index) covers leaves
    index * 2**level up to (index + 1) * 2**level - 1. Nodes are written once,
    when the subtree is complete, and never change.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        verbose_name = _("receipt log node")
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="log_node_position"),
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class SigningKey(models.Model):
    """A public key the operator has signed with. Never deleted: old receipts verify forever.

    The private half lives outside the database (a key file or a secret in the
    environment); this row is what `/.well-known/jwks.json` publishes.
    """

    kid = models.CharField(max_length=100, primary_key=True)
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")

    def __str__(self) -> str:
        return self.kid


class Notification(models.Model):
    """A signed event for one service's webhook: an outbox row, delivered after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="notifications")
    url = models.URLField(max_length=2000)
    event = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # The sweeper looks for pending notifications whose time has come.
            models.Index(fields=["status", "next_attempt_at"], name="notification_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.service.slug}"


class NotificationAttempt(models.Model):
    """One try at delivering a notification, whatever came of it."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("delivered")
        RETRY = "retry", _("will retry")
        FAILED = "failed", _("failed")

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name = _("notification attempt")
        verbose_name_plural = _("notification attempts")

    def __str__(self) -> str:
        return f"{self.notification_id} {self.outcome}"
