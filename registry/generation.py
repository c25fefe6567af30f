"""Registry rows read once per process, and read again after any change to the registry.

Services, organisations and data types change rarely and are read on every public
registry request and on hot paths. Each change to them (registry/services.py) calls
`generation_bump()` inside its own transaction: that gives the one RegistryGeneration
row a new random token. A process keeps what it built from registry rows under the
token it read before building (`remembered`), and drops it all when it reads another.

Why a database row, and not a key in the Django cache (Redis, or files embedded):
the new token commits, or rolls back, with the change itself. No invalidation is
lost to a crash between commit and a cache write, none is seen before the change
is, and a transaction reads its own change at once. Reading the row is one small
statement per use, on the connection the request already holds; what is kept
costs nothing more until the registry changes. So there is no stale window: a
process that reads the token after a change committed builds from the new rows,
and one that read it just before serves what a direct read at that moment would.

Tokens are random, never counted: a token written by a transaction that rolled
back, or before a database was restored, is never current again, so nothing built
under it is served.

A write to registry tables that bypasses registry/services.py (a shell, raw SQL, a
data migration) must call `generation_bump()` too, or processes keep serving the
rows as they were until the next change.
"""

import secrets
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.db import connection

from registry.models import RegistryGeneration

T = TypeVar("T")

# (token, what was built under it). Replaced whole, never cleared in place: a build
# that started under an older token stores into the older dict, not the new one.
_kept: tuple[str | None, dict[Hashable, Any]] = (None, {})


def generation_current() -> str | None:
    """The registry's current token; None if its row is missing (a flushed test database)."""
    table = connection.ops.quote_name(RegistryGeneration._meta.db_table)
    # A plain statement: this runs on every public registry request.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token FROM {table} WHERE id = 1")  # noqa: S608  # no input
        row = cursor.fetchone()
    return None if row is None else row[0]


def generation_bump() -> None:
    """Mark the registry changed. Call it inside the transaction that changes it, last.

    Changes to the registry wait for each other at this row, from here to their
    commit: they are rare (staff's and providers' edits), and nothing else writes it.
    """
    token = secrets.token_hex(16)
    if not RegistryGeneration.objects.filter(pk=1).update(token=token):
        RegistryGeneration.objects.update_or_create(pk=1, defaults={"token": token})


def generation_kept() -> dict[Hashable, Any]:
    """This process's store for the current registry generation (one statement).

    Whatever a caller puts in it must be built from rows read after this call. With
    no generation row, the store is a new one that nobody keeps.
    """
    global _kept
    token = generation_current()
    if token is None:
        return {}
    kept_token, kept = _kept
    if kept_token != token:
        kept = {}
        _kept = (token, kept)
    return kept


def remembered(
    key: Hashable, build: Callable[[], T], *, kept: dict[Hashable, Any] | None = None
) -> T:
    """What `build()` returns, built at most once per process per registry generation.

    One statement (the token) when it is kept, none if the caller passes the store
    it got from `generation_kept()` for this request. `build` reads registry rows
    only after the token was read, so what it returns is at least as new as that
    token. Keys must be bounded (never raw client input); callers must not change
    what they get.
    """
    if kept is None:
        kept = generation_kept()
    if key not in kept:
        kept[key] = build()
    return kept[key]


def forget() -> None:
    """Drop what this process keeps (tests that roll the database back call it)."""
    global _kept
    _kept = (None, {})
