"""The receipt log and the keys that sign: evidence, written once and never changed."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


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


class LogEntry(models.Model):
    """One leaf of the receipt log: a signed receipt, kept as the opaque text that was hashed.

    The ledger knows nothing of what a receipt says; the apps that issue
    receipts keep their own rows pointing here, under the same id. An entry is
    written in the transaction of what it is evidence of, without an index; the
    sequencer gives it one (once, never another) when it integrates the entry into
    the tree: until then a LogQueue row holds its place in line.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    index = models.BigIntegerField(unique=True, null=True, blank=True)
    data = models.TextField()
    # SHA-256 of `data` (hex): how a receipt names the one before it in its chain.
    sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        verbose_name = _("log entry")
        verbose_name_plural = _("log entries")

    def __str__(self) -> str:
        return f"#{self.index}" if self.index is not None else f"pending {self.id}"


class LogQueue(models.Model):
    """A log entry waiting for the sequencer, in the order the entries were queued.

    The sequencer integrates entries in `id` order and deletes their rows in the
    same transaction. A consent's receipts are queued one after another (each
    waits for the one before to commit), so they reach the log in chain order.
    """

    id = models.BigAutoField(primary_key=True)
    entry = models.OneToOneField(LogEntry, on_delete=models.PROTECT, related_name="queued")

    class Meta:
        verbose_name = _("queued log entry")
        verbose_name_plural = _("queued log entries")

    def __str__(self) -> str:
        return f"queued {self.id}"


class LogHead(models.Model):
    """The receipt log's current size: one row, locked by the sequencer while it integrates."""

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
        indexes = [
            # An auditor holding a receipt asks for its inclusion proof by leaf hash.
            models.Index(fields=["hash"], condition=models.Q(level=0), name="log_node_leaf_hash"),
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


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
