"""Checkpoints of the receipt log: signed statements of its size and root."""

import base64

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger import jws
from ledger.log import log_integrate, log_root, log_size
from ledger.models import Checkpoint

CHECKPOINT_TYP = "log-checkpoint+jwt"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size", "-id").first()


def checkpoint_sign() -> Checkpoint:
    """Sign the log's present size and root, unless the latest checkpoint already says so.

    The queue is integrated first, so that a checkpoint covers every receipt issued
    before it was asked for (unless another sequencer is at it just then).
    """
    log_integrate()
    try:
        with transaction.atomic():
            return _checkpoint_sign()
    except IntegrityError:  # a racing call signed this size first: its checkpoint stands
        latest = checkpoint_latest()
        if latest is None:  # no checkpoint at all: the error was not that race
            raise
        return latest


def _checkpoint_sign() -> Checkpoint:
    size = log_size()
    latest = checkpoint_latest()
    if latest is not None and latest.tree_size == size:
        return latest
    root = log_root(size=size)
    now = timezone.now()
    token = jws.sign(
        {
            "operator": settings.BASE_URL,
            "tree_size": size,
            "root": b64(root),
            "timestamp": int(now.timestamp()),
        },
        typ=CHECKPOINT_TYP,
    )
    return Checkpoint.objects.create(tree_size=size, root=root.hex(), jws=token)
