"""Racing transfer requests and schedulers, which only a real database server runs side by side."""

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from common.errors import Conflict
from relay import services
from relay.models import Transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(consent, first_key: str | None, second_key: str | None) -> dict[str, object]:
    """Two transfer requests under `consent`, the second sent while the first's
    transaction, its transfer written, has not committed: what each came to."""
    organisation = consent.sink.organisation
    first_inserted, second_started = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = services.transfer_request(
                    consent=consent, organisation=organisation, idempotency_key=first_key
                )
                first_inserted.set()
                second_started.wait(10)
                time.sleep(0.3)  # the second request is now waiting for the consent's lock
        finally:
            connection.close()

    def second() -> None:
        first_inserted.wait(10)
        second_started.set()
        try:
            outcomes["second"] = services.transfer_request(
                consent=consent, organisation=organisation, idempotency_key=second_key
            )
        except Conflict as conflict:
            outcomes["second"] = conflict
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_repeat_of_an_idempotency_key_returns_the_original(consent):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=10)

    outcomes = race(consent, "k-race", "k-race")

    transfer, created = outcomes["first"]
    assert created is True
    assert outcomes["second"] == (transfer, False)
    assert Transfer.objects.count() == 1


def test_concurrent_requests_under_one_consent_make_one_transfer(consent):
    # Ten a day: only the rule of one unfinished transfer per consent stops the second.
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=10)

    outcomes = race(consent, None, "k-other")

    transfer, _created = outcomes["first"]
    assert isinstance(outcomes["second"], Conflict)
    assert outcomes["second"].code == "transfer_in_progress"
    assert outcomes["second"].detail == {"transfer": str(transfer.id)}
    assert Transfer.objects.count() == 1


def test_database_alone_refuses_a_second_unfinished_transfer_from_another_connection(consent):
    # Past the lock and the check: two connections insert at once, and the
    # partial unique index makes the second wait for the first, then fail.
    organisation = consent.sink.organisation
    first_inserted = threading.Event()
    outcomes: dict[str, object] = {}

    def insert(name: str) -> None:
        try:
            with transaction.atomic():
                Transfer.objects.create(
                    consent=consent, requested_by=organisation, next_attempt_at=consent.created_at
                )
                outcomes[name] = "inserted"
                first_inserted.set()
                time.sleep(0.3 if name == "first" else 0)
        except IntegrityError:
            outcomes[name] = "refused"
        finally:
            connection.close()

    first = threading.Thread(target=insert, args=("first",))
    first.start()
    first_inserted.wait(10)
    second = threading.Thread(target=insert, args=("second",))
    second.start()
    for thread in (first, second):
        thread.join(timeout=30)

    assert outcomes == {"first": "inserted", "second": "refused"}
    assert Transfer.objects.count() == 1


def test_two_schedulers_at_once_create_one_transfer(consent):
    # Two a day: the limit alone would let the second scheduler add a twin; the spacing must not.
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=2)
    first_created, second_started = threading.Event(), threading.Event()
    created: dict[str, int] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                created["first"] = services.transfer_schedule_due()
                first_created.set()
                second_started.wait(10)
                time.sleep(0.3)  # the second scheduler now waits for the consent's lock
        finally:
            connection.close()

    def second() -> None:
        first_created.wait(10)
        second_started.set()
        try:
            # It read before the first committed: only the lock keeps it from a twin.
            created["second"] = services.transfer_schedule_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert created == {"first": 1, "second": 0}
    assert Transfer.objects.count() == 1
