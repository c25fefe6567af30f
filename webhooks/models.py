import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from common.models import Attempt
from registry.models import Service


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


class NotificationAttempt(Attempt):
    """One try at delivering a notification, whatever came of it."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("delivered")
        RETRY = "retry", _("will retry")
        FAILED = "failed", _("failed")

    # PROTECT: an attempt is evidence, never deleted (common/evidence.py), nor is its row.
    notification = models.ForeignKey(
        Notification, on_delete=models.PROTECT, related_name="attempt_rows"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)

    class Meta(Attempt.Meta):
        verbose_name = _("notification attempt")
        verbose_name_plural = _("notification attempts")

    def __str__(self) -> str:
        return f"{self.notification_id} {self.outcome}"
