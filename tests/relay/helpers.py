"""Driving the relay in the test process, as workers would."""

import time

from django.utils import timezone

from relay import services
from relay.models import Transfer


def request_transfer(consent) -> Transfer:
    """The consent's sink asks for a transfer under it."""
    transfer, _created = services.transfer_request(
        consent=consent, organisation=consent.sink.organisation
    )
    return transfer


def relay_until_final(transfer: Transfer, *, tries: int = 10) -> Transfer:
    """Run the relay as workers would, each try when it falls due, until the transfer ends."""
    for _ in range(tries):
        transfer.refresh_from_db()
        if transfer.is_final:
            return transfer
        time.sleep(max(0.0, (transfer.next_attempt_at - timezone.now()).total_seconds()))
        services.transfer_relay(transfer_id=transfer.id)
    transfer.refresh_from_db()
    return transfer
