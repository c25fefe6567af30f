"""No grant waits for an unrelated one: it locks the request's row and the resident's,
never the services, organisations or the log that it only reads or appends to."""

import psycopg
import pytest
from django.db import connection

from ledger.log import log_integrate, log_pending
from tests.factories import grant_consent, link_resident, request_consent
from tests.logs import append
from tests.workers import worker_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_grant_goes_through_while_its_services_and_the_log_are_locked(wearable, wellbeing, aino):
    link_resident(aino, wearable)
    request = request_consent(sink=wellbeing, source=wearable)
    append("an earlier receipt")  # the log's head row exists
    queued = log_pending()
    url = worker_database_url().replace("postgres://", "postgresql://", 1)

    # Another transaction holds what a grant between these services reads: both
    # services and both organisations, locked as an update of them locks them (or as a
    # grant locked them before), and the log's head, as a sequencer mid-batch does.
    # (Only the keys a grant's new rows refer to stay shared: FOR KEY SHARE.)
    with psycopg.connect(url) as other:
        other.execute(
            "SELECT 1 FROM registry_service WHERE id = ANY(%s) FOR NO KEY UPDATE",
            [[wearable.pk, wellbeing.pk]],
        )
        other.execute(
            "SELECT 1 FROM registry_organisation WHERE id = ANY(%s) FOR NO KEY UPDATE",
            [[wearable.organisation_id, wellbeing.organisation_id]],
        )
        other.execute("SELECT 1 FROM ledger_loghead FOR UPDATE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting would fail, not hang
        try:
            consent = grant_consent(request, aino)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        other.rollback()

    assert consent.status == "active"
    assert log_pending() == queued + 2  # the sink's link and the grant, queued
    assert log_integrate() == queued + 2
