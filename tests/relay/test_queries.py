"""How many SQL statements a relayed transfer costs, counted so that the count cannot creep back."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger import keys
from relay import services
from relay.models import Transfer
from tests.relay.helpers import request_transfer
from tests.servers import Answer

# One relayed transfer of one part, end to end, as the relay task runs it:
#   the claim (1), the transfer with its consent, sink, organisation and the sink's
#   pairwise id (1), the consent's data types and sources (2), the run's parts with
#   their sources and pairwise ids (1), the move to `delivering` with the consent's
#   re-check (1); then the part's transaction (2 here: a savepoint and its release
#   inside the test's transaction) with the consent locked (1: the receipt continues
#   its chain), the try's fence (1), the attempt row (1), the delivery receipt (4:
#   its chain, the log) and the part's new state (1); then the run's transaction (2)
#   with its final state (1) and the source's and sink's notifications (2).
TRANSFER_STATEMENTS = 21
# Before the delivery: the claim, the reads of the try, the move to `delivering`.
BEFORE_DELIVERY = 6
# Asking for one: the consent's data types (1), the consent locked with its sink read
# (1) and its sources (1), the frequency limit (1), the unfinished transfers under the
# consent and at the sink (2), the new row and its part (2), in savepoints here (4:
# the request's and the insert's).
REQUEST_STATEMENTS = 12


def signing_key_published(django_capture_on_commit_callbacks) -> None:
    """Publish the test's signing key as a running process has: its row is not read per use."""
    with django_capture_on_commit_callbacks(execute=True):
        keys.active_key()


def test_a_transfer_request_costs_a_fixed_number_of_statements(
    peers, consent, django_assert_max_num_queries
):
    with django_assert_max_num_queries(REQUEST_STATEMENTS):
        transfer, created = services.transfer_request(
            consent=consent, organisation=consent.sink.organisation
        )

    assert (created, transfer.status) == (True, "queued")


def test_a_relayed_transfer_costs_a_fixed_number_of_statements(
    peers, consent, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    source, sink = peers
    source.answers = [Answer(body=b'{"steps": 10234}')]
    transfer = request_transfer(consent)
    signing_key_published(django_capture_on_commit_callbacks)

    with django_assert_max_num_queries(TRANSFER_STATEMENTS):
        services.transfer_relay(transfer_id=transfer.id)

    transfer.refresh_from_db()
    assert (transfer.status, len(sink.requests)) == ("delivered", 1)
    assert sink.requests[0].verified


def test_a_try_makes_a_fixed_number_of_statements_before_it_delivers(
    peers, consent, django_capture_on_commit_callbacks
):
    transfer = request_transfer(consent)
    signing_key_published(django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as statements:
        services.transfer_relay(transfer_id=transfer.id)

    before_delivery = []
    for statement in statements.captured_queries:
        before_delivery.append(statement["sql"])
        if "'delivering'" in statement["sql"]:
            break
    assert len(before_delivery) == BEFORE_DELIVERY
    assert Transfer.objects.get(pk=transfer.pk).status == "delivered"
