"""Racing transfer requests and schedulers, which only a real database server runs side by side."""

import threading
import time

import pytest
from django.db import connection, transaction

from common.errors import Conflict
from relay import services
from relay.models import Transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_duplicate_idempotency_key_is_a_conflict(consent):
    type(consent).objects.filter(pk=consent.pk).update(frequency_limit=10)
    organisation = consent.sink.organisation
    first_inserted, second_started = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = services.transfer_request(
                    consent=consent, organisation=organisation, idempotency_key="k-race"
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
                consent=consent, organisation=organisation, idempotency_key="k-race"
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

    assert isinstance(outcomes["first"], tuple)
    assert isinstance(outcomes["second"], Conflict)
    assert outcomes["second"].code == "idempotency_key_in_use"
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
