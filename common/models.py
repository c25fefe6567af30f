"""Abstract models that apps' tables share in shape; the library itself has no tables."""

from django.db import models


class Attempt(models.Model):
    """One try at delivering an outbox row, whatever came of it: the same evidence for
    every kind. A subclass adds the row it belongs to and its `outcome` choices."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=20)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The operator's own code, never a peer's words; empty when none.
    error = models.CharField(max_length=60, blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        abstract = True
        ordering = ["started_at"]
