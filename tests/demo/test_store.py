"""The demo sink's store binds each request's state to the browser that started it."""

import sqlite3
from contextlib import closing

import pytest

from demo.store import StateRefused, Store, account_of

MINE = "m" * 43  # a browser's secret, as its cookie holds it
OTHER = "o" * 43


@pytest.fixture
def store(tmp_path) -> Store:
    """A store with one request started in the browser holding MINE."""
    store = Store(tmp_path / "state.sqlite3")
    store.state_save("st-1", browser=MINE, account=account_of(MINE), request_id="req-1")
    return store


def refusal(store: Store, state: str, browser: str) -> str:
    with pytest.raises(StateRefused) as refused:
        store.state_use(state, browser=browser)
    return refused.value.reason


def test_a_state_comes_back_with_its_request_in_the_browser_that_started_it(store):
    started = store.state_use("st-1", browser=MINE)

    assert (started.account, started.request_id) == (account_of(MINE), "req-1")


def test_a_state_is_refused_with_another_browsers_cookie(store):
    assert refusal(store, "st-1", OTHER) == "other_browser"


def test_a_state_is_refused_without_a_cookie(store):
    assert refusal(store, "st-1", "") == "other_browser"


def test_a_state_is_used_once(store):
    store.state_use("st-1", browser=MINE)

    assert refusal(store, "st-1", MINE) == "used"


def test_a_state_that_came_back_in_another_browser_is_spent_for_its_own_too(store):
    refusal(store, "st-1", OTHER)

    assert refusal(store, "st-1", MINE) == "used"


@pytest.mark.parametrize("state", ["st-2", ""])
def test_a_state_never_issued_is_refused(store, state):
    assert refusal(store, state, MINE) == "unknown"


def test_the_store_keeps_no_browser_secret(store, tmp_path):
    assert MINE.encode() not in (tmp_path / "state.sqlite3").read_bytes()


def test_a_state_is_never_saved_unbound(store):
    with pytest.raises(ValueError, match="bound to a browser"):
        store.state_save("st-3", browser="", account="a", request_id="r")


def test_each_browser_is_an_account_of_its_own():
    assert account_of(MINE) != account_of(OTHER)
    assert MINE not in account_of(MINE)


def test_a_state_file_of_an_earlier_version_gains_the_binding_and_its_states_count_nowhere(
    tmp_path,
):
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("create table states (state text primary key, created_at text not null, "
                   "used_at text)")  # fmt: skip
        db.execute("create table consents (id text primary key, status text not null, "
                   "updated_at text not null, note text not null default '')")  # fmt: skip
        db.execute("insert into states values ('old', '2026-01-01T00:00:00+00:00', null)")
        db.execute("insert into consents values ('c-old', 'active', '2026-01-01', '')")

    store = Store(path)

    assert refusal(store, "old", MINE) == "other_browser"
    assert store.account_consents(account_of(MINE)) == []
    store.state_save("st-new", browser=MINE, account=account_of(MINE), request_id="r")
    assert store.state_use("st-new", browser=MINE).request_id == "r"


def test_links_of_an_earlier_version_are_the_watchs(tmp_path):
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("create table links (subject text primary key, user text not null, "
                   "linked_at text not null)")  # fmt: skip
        db.execute("insert into links values ('s-old', 'askel-user-1', '2026-01-01')")

    store = Store(path)

    assert store.link_user("s-old", service="wearable") == "askel-user-1"
    assert store.link_user("s-old", service="espoo-sports") is None
