"""A delivery receipt and a resident's change, racing, still leave the consent one chain."""

import threading

import pytest
from django.db import connection, transaction

from audit.integrity import receipts_check
from consent import services as consent_services
from ledger.log import log_integrate
from relay import services
from tests.relay.helpers import request_transfer
from tests.servers import Answer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_delivery_recorded_while_a_pause_commits_continues_the_chain_after_it(peers, consent):
    source, _sink = peers
    source.answers = [Answer(body=b'{"steps": 10234}')]
    transfer = request_transfer(consent)
    paused, release, failures = threading.Event(), threading.Event(), []

    def resident_pauses() -> None:
        try:
            with transaction.atomic():
                consent_services.consent_pause(consent=consent)
                paused.set()
                release.wait(timeout=30)  # the pause commits only once released
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            failures.append(error)
        finally:
            paused.set()
            connection.close()

    def relay() -> None:
        try:
            services.transfer_relay(transfer_id=transfer.id)
        except Exception as error:
            failures.append(error)
        finally:
            connection.close()

    pauser = threading.Thread(target=resident_pauses)
    pauser.start()
    paused.wait(timeout=30)
    # The try reads the consent as committed (active), delivers, and records the
    # delivery while the pause, uncommitted, holds the consent's row.
    relaying = threading.Thread(target=relay)
    relaying.start()
    relaying.join(timeout=2)  # done by now unless it waits for the pause, as it should
    release.set()
    pauser.join(timeout=30)
    relaying.join(timeout=30)
    log_integrate()

    assert failures == []
    assert consent.receipts.filter(event="transfer.delivered").count() == 1
    assert receipts_check() == []
