"""What the audit pages remember: the results of the log's integrity checks."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IntegrityCheck(models.Model):
    """One check of the whole receipt log (audit/integrity.py), and what it found.

    A report about the evidence, not evidence itself: each run adds a row, and
    the audit front page shows the latest.
    """

    # The most problems a row keeps: a log changed wholesale would list every leaf.
    PROBLEMS_KEPT = 100

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    tree_size = models.BigIntegerField(help_text=_("receipts in the log when the check began"))
    problem_count = models.PositiveIntegerField()
    # [{"record": "leaf 12", "reason": "is missing"}, …], the first PROBLEMS_KEPT.
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        verbose_name = _("integrity check")
        verbose_name_plural = _("integrity checks")

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M} {self.problem_count}"

    @property
    def intact(self) -> bool:
        return self.problem_count == 0
