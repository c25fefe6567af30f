"""The demo services' state: one SQLite file under var/demo/, kept across restarts.

Each call opens its own connection, so the server's threads never share one;
SQLite serialises the writes.
"""

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
create table if not exists links (subject text primary key, user text not null,
    linked_at text not null);
create table if not exists states (state text primary key, created_at text not null,
    used_at text);
create table if not exists consents (id text primary key, status text not null,
    updated_at text not null, note text not null default '');
create table if not exists transfers (id text primary key, consent_id text not null,
    status text not null, updated_at text not null);
create table if not exists deliveries (idempotency_key text primary key, consent_id text,
    subject text, received_at text not null, content_type text, digest text not null,
    byte_count integer not null, body blob not null);
create table if not exists events (service text not null, id text not null, event text not null,
    summary text not null, received_at text not null, primary key (service, id));
"""
_TRANSFER_ANSWER = "insert into transfers values (?, ?, ?, ?) on conflict(id) do nothing"
_TRANSFER_NEWS = (
    "insert into transfers values (?, ?, ?, ?) on conflict(id) "
    "do update set status = excluded.status, updated_at = excluded.updated_at"
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _run(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with closing(self._connect()) as db:
            return db.execute(sql, args).fetchall()

    # -- the source: whose watch a pairwise subject is

    def link_save(self, *, subject: str, user: str) -> None:
        self._run("insert or replace into links values (?, ?, ?)", subject, user, now())

    def link_user(self, subject: str) -> str | None:
        rows = self._run("select user from links where subject = ?", subject)
        return rows[0]["user"] if rows else None

    def links(self) -> list[sqlite3.Row]:
        return self._run("select * from links order by linked_at desc")

    # -- the sink: the consent requests it started, and what came of them

    def state_save(self, state: str) -> None:
        self._run("insert into states values (?, ?, null)", state, now())

    def state_use(self, state: str) -> bool:
        """Mark `state` used; True only the first time, and only for a state we issued."""
        with closing(self._connect()) as db:
            changed = db.execute(
                "update states set used_at = ? where state = ? and used_at is null", (now(), state)
            )
            return changed.rowcount == 1

    def consent_save(self, *, consent_id: str, status: str, note: str = "") -> None:
        self._run(
            "insert into consents (id, status, updated_at, note) values (?, ?, ?, ?) "
            "on conflict(id) do update set status = excluded.status, "
            "updated_at = excluded.updated_at, note = excluded.note",
            consent_id, status, now(), note,
        )  # fmt: skip

    def transfer_save(self, *, transfer_id: str, consent_id: str, status: str, news: bool) -> None:
        """Record a transfer's status: `news` (a notification) replaces what we knew.

        The answer to our request is not news: a notification that the transfer
        was delivered may arrive before it, and must not be undone by it.
        """
        sql = _TRANSFER_NEWS if news else _TRANSFER_ANSWER
        self._run(sql, transfer_id, consent_id, status, now())

    def consents(self) -> list[sqlite3.Row]:
        """Each consent, with its latest transfer (or a note when there is none)."""
        return self._run(
            "select c.*, coalesce((select t.id || ' ' || t.status from transfers t "
            "where t.consent_id = c.id order by t.updated_at desc limit 1), c.note) as transfer "
            "from consents c order by c.updated_at desc"
        )

    def delivery_save(self, *, key: str, consent_id: str, subject: str, content_type: str,
                      digest: str, body: bytes) -> bool:  # fmt: skip
        """Keep a delivery once per idempotency key; False if the key was seen already."""
        with closing(self._connect()) as db:
            added = db.execute(
                "insert or ignore into deliveries values (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, consent_id, subject, now(), content_type, digest, len(body), body),
            )
            return added.rowcount == 1

    def delivery_digest(self, key: str) -> str | None:
        rows = self._run("select digest from deliveries where idempotency_key = ?", key)
        return rows[0]["digest"] if rows else None

    def deliveries(self) -> list[sqlite3.Row]:
        return self._run("select * from deliveries order by received_at desc")

    # -- both: webhook notifications

    def event_save(self, *, service: str, event_id: str, event: str, summary: str) -> bool:
        """Record a notification once per id (delivery is at least once); True if new."""
        with closing(self._connect()) as db:
            added = db.execute(
                "insert or ignore into events values (?, ?, ?, ?, ?)",
                (service, event_id, event, summary, now()),
            )
            return added.rowcount == 1

    def events(self, service: str, limit: int = 10) -> list[sqlite3.Row]:
        return self._run(
            "select * from events where service = ? order by received_at desc limit ?",
            service, limit,
        )  # fmt: skip
