"""Logins lock after too many wrong passwords: for one user name from one address, for a while."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from common.env import Rate
from registry.models import AuditEvent
from tests.factories import PASSWORD, make_user

ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


def log_in(client, page: str, username: str, password: str, address: str = ATTACKER):
    return client.post(page, {"username": username, "password": password}, REMOTE_ADDR=address)


def guess(client, page: str, username: str, times: int, address: str = ATTACKER) -> None:
    for n in range(times):
        log_in(client, page, username, f"wrong-{n}", address)


def logged_in(response) -> bool:
    """A login form redirects on success; a refusal shows a page instead."""
    return response.status_code == 302


@pytest.fixture
def staff_too(db):
    """A second member of staff, who logs in at /admin/ like `staff`."""
    return make_user("staff2", is_staff=True)


@pytest.fixture
def accounts(aino, eero, staff, staff_too):
    """Per login page: the user an attacker guesses at, and another who uses the same page."""
    return {"/accounts/login/": ("aino", "eero"), "/admin/login/": ("staff", "staff2")}


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_right_password_after_100_wrong_ones_is_refused(client, accounts, page):
    victim, _other = accounts[page]
    guess(client, page, victim, 100)

    response = log_in(client, page, victim, PASSWORD)

    assert response.status_code == 429
    assert not logged_in(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_another_user_name_from_the_same_address_still_logs_in(client, accounts, settings, page):
    victim, other = accounts[page]
    guess(client, page, victim, settings.AXES_FAILURE_LIMIT + 1)  # locked; more would not count

    assert log_in(client, page, victim, PASSWORD).status_code == 429
    assert logged_in(log_in(client, page, other, PASSWORD))


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_same_user_name_from_another_address_still_logs_in(client, accounts, settings, page):
    victim, _other = accounts[page]
    guess(client, page, victim, settings.AXES_FAILURE_LIMIT + 1)

    assert log_in(client, page, victim, PASSWORD).status_code == 429
    assert logged_in(log_in(client, page, victim, PASSWORD, address=ELSEWHERE))


def test_the_lock_holds_until_the_cool_off_has_passed(client, aino, settings):
    guess(client, "/accounts/login/", "aino", settings.AXES_FAILURE_LIMIT)
    cool_off = settings.AXES_COOLOFF_TIME

    with time_machine.travel(timezone.now() + cool_off - timedelta(seconds=5)):
        assert log_in(client, "/accounts/login/", "aino", PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + cool_off + timedelta(seconds=5)):
        assert logged_in(log_in(client, "/accounts/login/", "aino", PASSWORD))


def test_the_limit_is_the_setting(client, aino, settings):
    settings.AXES_FAILURE_LIMIT = 3
    guess(client, "/accounts/login/", "aino", 2)

    assert log_in(client, "/accounts/login/", "aino", "wrong").status_code == 429


def test_a_lock_says_when_to_try_again_in_plain_words(client, aino, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    guess(client, "/accounts/login/", "aino", settings.AXES_FAILURE_LIMIT)

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        response = client.post(
            "/accounts/login/", {"username": "aino", "password": PASSWORD},
            REMOTE_ADDR=ATTACKER, HTTP_ACCEPT_LANGUAGE="en",
        )  # fmt: skip

    page = response.content.decode()
    assert response.status_code == 429
    assert "Too many login attempts" in page
    assert "in about 10 minutes" in page
    assert 9 * 60 < int(response["Retry-After"]) <= 10 * 60


@pytest.mark.parametrize(
    ("language", "words"),
    [("fi", "Liian monta kirjautumisyritystä"), ("sv", "För många inloggningsförsök")],
)
def test_the_lock_page_speaks_finnish_and_swedish(client, aino, settings, language, words):
    guess(client, "/accounts/login/", "aino", settings.AXES_FAILURE_LIMIT)

    response = client.post(
        "/accounts/login/", {"username": "aino", "password": PASSWORD},
        REMOTE_ADDR=ATTACKER, HTTP_ACCEPT_LANGUAGE=language,
    )  # fmt: skip

    assert words in response.content.decode()


def test_a_lockout_writes_one_audit_event_without_the_password(client, aino, settings):
    guess(client, "/accounts/login/", "aino", settings.AXES_FAILURE_LIMIT + 5)

    events = AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_LOCKED_OUT)
    assert [event.detail for event in events] == [
        {
            "username": "aino",
            "address": ATTACKER,
            "path": "/accounts/login/",
            "failures": settings.AXES_FAILURE_LIMIT,
        }
    ]
    assert events[0].organisation is None


def test_lockout_events_are_listed_for_staff(client, aino, staff, settings):
    guess(client, "/accounts/login/", "aino", settings.AXES_FAILURE_LIMIT)
    client.force_login(staff)

    page = client.get("/admin/registry/auditevent/", {"q": "aino"}, HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    assert "account locked out" in page.content.decode()


def test_the_address_behind_a_proxy_is_the_one_it_saw(client, aino, settings):
    settings.OMADATA_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/", {"username": "aino", "password": f"wrong-{n}"},
            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}",
        )  # fmt: skip

    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_LOCKED_OUT)
    assert event.detail["address"] == ATTACKER


# -- many user names from one address ------------------------------------------------


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_one_address_trying_many_user_names_is_locked_out(client, accounts, settings, page):
    settings.OMADATA_RATE_LOGIN_ADDRESS = Rate(5, 900)
    victim, _other = accounts[page]
    for n in range(5):
        log_in(client, page, f"someone-{n}", "wrong")

    response = client.post(
        page, {"username": victim, "password": PASSWORD},
        REMOTE_ADDR=ATTACKER, HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip

    assert response.status_code == 429
    assert "Too many logins from your network have failed" in response.content.decode()
    assert 0 < int(response["Retry-After"]) <= 900
    assert logged_in(log_in(Client(), page, victim, PASSWORD, address=ELSEWHERE))


def test_the_failure_that_reaches_the_address_limit_gets_the_lockout_page(client, db, settings):
    settings.OMADATA_RATE_LOGIN_ADDRESS = Rate(3, 900)

    answers = [log_in(client, "/accounts/login/", f"someone-{n}", "wrong") for n in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]


def test_an_address_lockout_writes_one_audit_event_without_user_names(client, db, settings):
    settings.OMADATA_RATE_LOGIN_ADDRESS = Rate(3, 900)
    for n in range(10):
        log_in(client, "/accounts/login/", f"someone-{n}", "wrong")

    events = AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_LOCKED_OUT)
    assert [event.detail for event in events] == [
        {"address": ATTACKER, "path": "/accounts/login/", "failures": 3}
    ]


def test_logins_that_succeed_do_not_count_against_the_address(aino, eero, settings):
    settings.OMADATA_RATE_LOGIN_ADDRESS = Rate(3, 900)

    answers = [log_in(Client(), "/accounts/login/", "aino", PASSWORD) for _ in range(5)]
    answers.append(log_in(Client(), "/accounts/login/", "eero", "wrong"))

    assert [a.status_code for a in answers] == [302] * 5 + [200]


def test_an_ipv6_address_counts_with_its_64_network(client, db, settings):
    settings.OMADATA_RATE_LOGIN_ADDRESS = Rate(3, 900)
    for n in range(3):
        log_in(client, "/accounts/login/", f"someone-{n}", "wrong", address=f"2001:db8::{n + 1}")

    response = log_in(client, "/accounts/login/", "aino", PASSWORD, address="2001:db8::ff")

    assert response.status_code == 429


# -- odd input -------------------------------------------------------------------------


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_a_user_name_over_255_characters_is_an_ordinary_failed_login(client, db, page):
    response = log_in(client, page, "a" * 300, "wrong")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
