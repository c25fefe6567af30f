"""The stateless half of an outbox: what webhook notifications and transfers share.

An outbox row (a Notification, a Transfer) is written in the transaction that
causes it and handed to the broker only after commit. A worker claims one try
of a due row with a conditional update, talks to the peer, and records the try
and the row's next state together, fenced by the try's number. A sweeper
re-enqueues rows whose message was lost. Each caller keeps its own steps where
they happen; the rules below are the same for both:

- one lease rule: a claimed try owns its row for the deadline of each request
  it makes, and a margin to record what came of them;
- one classification of failures: the operator's own codes, and which of them
  are worth another try;
- one backoff: full jitter, capped below the broker's visibility timeout;
- one way to enqueue: a broker that cannot take a message is logged and left
  to the sweeper, never raised into the change that made the row;
- one ceiling: no row is tried more than its maximum number of times, by any
  path. A claim takes only a row with tries left, and the sweeper ends a row
  whose tries are used up (its last try's worker died, or the try's outcome
  could not be recorded) with its evidence, rather than handing it on.
"""

import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet

logger = logging.getLogger(__name__)

# Failures worth trying again: the peer, or the way to it, may come back.
TRANSIENT_ERRORS = frozenset(
    {"timeout", "connection_failed", "unresolvable_host", "rate_limited", "server_error"}
)
# How many overdue rows one sweep re-enqueues; the next sweep takes the rest.
SWEEP_BATCH = 500

DELIVERED, RETRY, FAILED = "delivered", "retry", "failed"


def http_error(status: int) -> str:
    """The operator's code for a peer's HTTP status: "" for a 2xx, never the peer's words."""
    if 200 <= status < 300:
        return ""
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "rejected"


def is_transient(error: str) -> bool:
    """Whether a failure may pass: `error` is a code, optionally prefixed by the side of a
    transfer it happened on (`source_timeout`, `sink_server_error`)."""
    for side in ("source_", "sink_"):
        error = error.removeprefix(side)
    return error in TRANSIENT_ERRORS


def verdict(*, error: str, attempts: int, max_attempts: int) -> str:
    """What a finished try comes to: DELIVERED, RETRY (a passing failure with tries
    left) or FAILED."""
    if not error:
        return DELIVERED
    if is_transient(error) and attempts < max_attempts:
        return RETRY
    return FAILED


def lease_end(*, now: datetime, requests: int) -> datetime:
    """Until when a try claimed at `now` owns its row, for a try of `requests` requests.

    Once the lease ends the sweeper may hand the row to another worker, so it
    outlasts everything the try does: the outbound deadline of each request,
    and one deadline more for the database work around them.
    """
    return now + timedelta(seconds=(requests + 1) * settings.OMADATA_OUTBOUND_TIMEOUT)


def claim(
    due: QuerySet,
    *,
    pk: UUID | str,
    now: datetime,
    until: datetime,
    max_attempts: int,
    **changes: Any,
) -> bool:
    """Take the next try of row `pk` among `due` rows; False when there is none to take.

    The conditional update is the lock: it counts the try and moves
    `next_attempt_at` to the lease's end, so a second worker holding the same
    message finds nothing due and does nothing. A row that has had
    `max_attempts` tries has none left to take. `changes` are written with it.
    """
    taken = due.filter(pk=pk, next_attempt_at__lte=now, attempts__lt=max_attempts).update(
        attempts=F("attempts") + 1, next_attempt_at=until, **changes
    )
    return bool(taken)


def duration_ms(started: datetime, finished: datetime) -> int:
    return max(0, int((finished - started).total_seconds() * 1000))


def backoff(*, attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed try number `attempt` (1 for the first).

    Uniformly random in [0, min(cap, base * 2**attempt)]: work that failed
    together (one peer's outage) comes back spread out, not in waves. The cap
    is below the broker's visibility timeout (the settings check it at start).
    """
    # 2**32 times any base is past any sensible cap; far larger powers overflow a float.
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    return random.uniform(0, ceiling)  # noqa: S311 -- spreading load, not a secret


def enqueue(task: Any, object_id: UUID | str, *, countdown: float | None = None) -> bool:
    """Hand one outbox row's id to the broker; False when the broker cannot take it.

    A failure is logged, not raised: the row stays in the database, and the
    sweeper enqueues it again once the broker is back. Nothing is lost.
    """
    try:
        task.apply_async(args=[str(object_id)], countdown=countdown)
    except Exception:  # any broker failure: the sweeper is the answer to all of them
        logger.warning("enqueue of %s %s failed", task.name, object_id, exc_info=True)
        return False
    return True


def enqueue_all(task: Any, ids: Iterable[UUID | str]) -> None:
    for object_id in ids:
        if not enqueue(task, object_id):
            break  # the broker is down: the rest would fail as well, and wait for the next sweep


def sweep(
    *,
    overdue: QuerySet,
    reset: QuerySet,
    now: datetime,
    task: Any,
    max_attempts: int,
    **changes: Any,
) -> list:
    """Make the oldest `overdue` rows due now and enqueue them after commit; return their ids.

    `reset` filters the chosen rows again on their own columns, so that a row a
    worker claimed between the read and the write is left alone. Each swept row
    is due now (with `changes`), so it is not swept again for
    OMADATA_SWEEP_AFTER however slow the queue. At most SWEEP_BATCH rows a sweep.
    A row with no tries left (`max_attempts`) is not handed on: see `exhausted`.
    """
    with transaction.atomic():
        ids = list(
            overdue.filter(attempts__lt=max_attempts)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        reset.filter(pk__in=ids, attempts__lt=max_attempts).update(next_attempt_at=now, **changes)
        transaction.on_commit(lambda: enqueue_all(task, ids))
    return ids


def exhausted(unfinished: QuerySet, *, cutoff: datetime, max_attempts: int) -> list:
    """The oldest `unfinished` rows with no tries left whose time is past `cutoff`.

    Such a row's last try never recorded its end: its worker died, or recording
    its outcome failed. Its lease is over, so no worker holds it any more, and
    no claim will take it again: the sweeper ends it (see `end_each`).
    """
    rows = unfinished.filter(attempts__gte=max_attempts, next_attempt_at__lt=cutoff)
    return list(rows.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])


def end_each(ids: Iterable[UUID], end: Callable[[UUID], object]) -> None:
    """Call `end` for each row id, each in its own transaction; a failure is logged.

    One row whose end cannot be recorded must not keep the sweeper from the
    others; it stays, tried no more, and the next sweep tries to end it again.
    """
    for pk in ids:
        try:
            with transaction.atomic():
                end(pk)
        except Exception:  # whatever failed, the other rows still get their end
            logger.exception("could not end outbox row %s, whose tries are used up", pk)
