"""The demo services' state: one SQLite file under var/demo/, kept across restarts.

Each call opens its own connection, so the server's threads never share one;
SQLite serialises the writes.
"""

import hashlib
import hmac
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
create table if not exists links (subject text primary key, user text not null,
    linked_at text not null, service text not null default 'wearable');
create table if not exists states (state text primary key, created_at text not null,
    used_at text, browser_sha256 text not null default '', account text not null default '',
    request_id text not null default '');
create table if not exists consents (id text primary key, status text not null,
    updated_at text not null, note text not null default '', account text not null default '',
    sources text not null default '[]');
create table if not exists transfers (id text primary key, consent_id text not null,
    status text not null, updated_at text not null);
create table if not exists deliveries (idempotency_key text primary key, consent_id text,
    subject text, received_at text not null, content_type text, digest text not null,
    byte_count integer not null, body blob not null, transfer_id text not null default '',
    part integer, parts integer, source text not null default '{}');
create table if not exists events (service text not null, id text not null, event text not null,
    summary text not null, received_at text not null, consent_id text not null default '',
    primary key (service, id));
"""
# Columns that state files made before them lack: added when the store opens one. Their
# states and consents belong to no browser, so they are never taken or shown; their links
# are the watch's, the only source there was; their deliveries are whole transfers.
ADDED_COLUMNS = [
    ("links", "service", "text not null default 'wearable'"),
    ("consents", "sources", "text not null default '[]'"),
    ("deliveries", "transfer_id", "text not null default ''"),
    ("deliveries", "part", "integer"),
    ("deliveries", "parts", "integer"),
    ("deliveries", "source", "text not null default '{}'"),
    ("states", "browser_sha256", "text not null default ''"),
    ("states", "account", "text not null default ''"),
    ("states", "request_id", "text not null default ''"),
    ("consents", "account", "text not null default ''"),
    ("events", "consent_id", "text not null default ''"),
]
_TRANSFER_ANSWER = "insert into transfers values (?, ?, ?, ?) on conflict(id) do nothing"
_TRANSFER_NEWS = (
    "insert into transfers values (?, ?, ?, ?) on conflict(id) "
    "do update set status = excluded.status, updated_at = excluded.updated_at"
)
_CONSENTS = (
    "select c.*, coalesce((select t.id || ' ' || t.status from transfers t "
    "where t.consent_id = c.id order by t.updated_at desc limit 1), c.note) as transfer "
    "from consents c "
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def account_of(browser: str) -> str:
    """The wellbeing account of the browser holding secret `browser`.

    The demo sink has no sign-in: each browser is an account of its own, known by
    the secret in its cookie. The account's id is shown and sent to Omadata; it
    does not reveal the secret.
    """
    return hashlib.sha256(b"wellbeing account\0" + browser.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Started:
    """A consent request this sink started, as its state comes back."""

    account: str  # whose it is: the account of the browser that started it
    request_id: str  # the operator's id for the request


class StateRefused(Exception):
    """A state that cannot take an answer: `reason` is unknown, used or other_browser."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)
            for table, column, declaration in ADDED_COLUMNS:
                present = {row["name"] for row in db.execute(f"pragma table_info({table})")}
                if column not in present:
                    db.execute(f"alter table {table} add column {column} {declaration}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _run(self, sql: str, *args: object) -> list[sqlite3.Row]:
        with closing(self._connect()) as db:
            return db.execute(sql, args).fetchall()

    # -- the sources: whose account a pairwise subject is, at which source

    def link_save(self, *, subject: str, user: str, service: str) -> None:
        self._run(
            "insert or replace into links (subject, user, linked_at, service) values (?, ?, ?, ?)",
            subject, user, now(), service,
        )  # fmt: skip

    def link_user(self, subject: str, *, service: str) -> str | None:
        """The user that `subject` was linked to at source `service`; None for anyone else."""
        rows = self._run(
            "select user from links where subject = ? and service = ?", subject, service
        )
        return rows[0]["user"] if rows else None

    def links(self, *, service: str | None = None) -> list[sqlite3.Row]:
        """The links of source `service`, or of every source."""
        if service is None:
            return self._run("select * from links order by linked_at desc")
        return self._run("select * from links where service = ? order by linked_at desc", service)

    # -- the sink: the consent requests it started, and what came of them

    def state_save(self, state: str, *, browser: str, account: str, request_id: str) -> None:
        """Remember a request's `state`, bound to the browser that started it.

        Only a hash of the browser's secret is kept: the file does not hold what
        would let someone pass for that browser.
        """
        if not browser:
            raise ValueError("a state is bound to a browser's secret")
        self._run(
            "insert into states (state, created_at, browser_sha256, account, request_id) "
            "values (?, ?, ?, ?, ?)",
            state, now(), _sha256(browser), account, request_id,
        )  # fmt: skip

    def state_use(self, state: str, *, browser: str) -> Started:
        """Spend `state`: the request it started, if the browser holding `browser` started it.

        Raises StateRefused otherwise. The first return spends a state, whichever
        browser brings it: an answer's address, sent on from the browser it came
        back to, then counts nowhere, not even in the browser that asked.
        """
        with closing(self._connect()) as db:
            spent = db.execute(
                "update states set used_at = ? where state = ? and used_at is null "
                "returning browser_sha256, account, request_id",
                (now(), state),
            ).fetchall()
            known = spent or db.execute("select 1 from states where state = ?", (state,)).fetchall()
        if not spent:
            raise StateRefused("used" if known else "unknown")
        [row] = spent
        # In constant time: how much of the hash matched must not show in the answer's timing.
        if not browser or not hmac.compare_digest(row["browser_sha256"], _sha256(browser)):
            raise StateRefused("other_browser")
        return Started(account=row["account"], request_id=row["request_id"])

    def consent_attach(
        self, *, consent_id: str, account: str, status: str, note: str = "",
        sources: list[dict] | None = None,
    ) -> None:  # fmt: skip
        """Attribute a consent to `account`, or update it if that account holds it already.

        Call it only when the consent answers a request that this account's browser
        started and brought back: never on a notification alone. `sources` are the
        consent's sources as the operator's record names them ({id, slug, organisation}).
        """
        self._run(
            "insert into consents (id, status, updated_at, note, account, sources) "
            "values (?, ?, ?, ?, ?, ?) "
            "on conflict(id) do update set status = excluded.status, "
            "updated_at = excluded.updated_at, note = excluded.note, "
            "sources = case when excluded.sources = '[]' then consents.sources "
            "else excluded.sources end "
            "where consents.account = excluded.account",
            consent_id, status, now(), note, account, json.dumps(sources or []),
        )  # fmt: skip

    def consent_status(self, *, consent_id: str, status: str) -> None:
        """The new status of a consent that an account holds; any other consent is left out."""
        self._run(
            "update consents set status = ?, updated_at = ? where id = ?", status, now(), consent_id
        )

    def transfer_save(self, *, transfer_id: str, consent_id: str, status: str, news: bool) -> None:
        """Record a transfer's status: `news` (a notification) replaces what we knew.

        The answer to our request is not news: a notification that the transfer
        was delivered may arrive before it, and must not be undone by it.
        """
        sql = _TRANSFER_NEWS if news else _TRANSFER_ANSWER
        self._run(sql, transfer_id, consent_id, status, now())

    def consents(self) -> list[sqlite3.Row]:
        """Every account's consents, each with its latest transfer (or a note when none)."""
        return self._run(_CONSENTS + "order by c.updated_at desc")

    def account_consents(self, account: str) -> list[sqlite3.Row]:
        """The consents attributed to `account`, as consents() shows them."""
        return self._run(_CONSENTS + "where c.account = ? order by c.updated_at desc", account)

    def delivery_save(self, *, key: str, consent_id: str, subject: str, content_type: str,
                      digest: str, body: bytes, transfer_id: str = "", part: int | None = None,
                      parts: int | None = None, source: dict | None = None) -> bool:  # fmt: skip
        """Keep a delivery once per idempotency key; False if the key was seen already.

        A delivery is a transfer's part `part` of `parts` from `source` ({id, slug,
        organisation}, as the operator's token names it), or a whole transfer.
        """
        with closing(self._connect()) as db:
            added = db.execute(
                "insert or ignore into deliveries (idempotency_key, consent_id, subject, "
                "received_at, content_type, digest, byte_count, body, transfer_id, part, parts, "
                "source) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, consent_id, subject, now(), content_type, digest, len(body), body,
                 transfer_id, part, parts, json.dumps(source or {})),
            )  # fmt: skip
            return added.rowcount == 1

    def delivery_digest(self, key: str) -> str | None:
        rows = self._run("select digest from deliveries where idempotency_key = ?", key)
        return rows[0]["digest"] if rows else None

    def deliveries(self) -> list[sqlite3.Row]:
        """Everything delivered, whoever's it is."""
        return self._run("select * from deliveries order by received_at desc")

    def account_deliveries(self, account: str) -> list[sqlite3.Row]:
        """What was delivered under the consents attributed to `account`, latest first.

        Each with `consent_sources`: the sources of its consent, as attached. In the
        order they were kept (rowid): `received_at` counts whole seconds only.
        """
        return self._run(
            "select d.*, c.sources as consent_sources from deliveries d "
            "join consents c on c.id = d.consent_id "
            "where c.account = ? order by d.rowid desc",
            account,
        )

    # -- both: webhook notifications

    def event_save(
        self, *, service: str, event_id: str, event: str, summary: str, consent_id: str = ""
    ) -> bool:
        """Record a notification once per id (delivery is at least once); True if new."""
        with closing(self._connect()) as db:
            added = db.execute(
                "insert or ignore into events values (?, ?, ?, ?, ?, ?)",
                (service, event_id, event, summary, now(), consent_id),
            )
            return added.rowcount == 1

    def events(self, service: str, limit: int = 10) -> list[sqlite3.Row]:
        """The last notifications `service` received, whatever they are about."""
        return self._run(
            "select * from events where service = ? order by received_at desc limit ?",
            service, limit,
        )  # fmt: skip

    def account_events(self, service: str, account: str, limit: int = 10) -> list[sqlite3.Row]:
        """The last notifications about the consents attributed to `account`."""
        return self._run(
            "select e.* from events e join consents c on c.id = e.consent_id "
            "where e.service = ? and c.account = ? order by e.received_at desc limit ?",
            service, account, limit,
        )  # fmt: skip
