"""What the outboxes share: handing work to the broker, and waiting between tries."""

import logging
import random
from uuid import UUID

logger = logging.getLogger(__name__)


def enqueue(task, object_id: UUID | str, *, countdown: float | None = None) -> bool:
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


def full_jitter(*, attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed try number `attempt` (1 for the first).

    Uniformly random in [0, min(cap, base * 2**attempt)]: work that failed
    together (one peer's outage) comes back spread out, not in waves.
    """
    # 2**32 times any base is past any sensible cap; far larger powers overflow a float.
    ceiling = min(cap, base * 2 ** min(attempt, 32))
    return random.uniform(0, ceiling)  # noqa: S311 -- spreading load, not a secret
