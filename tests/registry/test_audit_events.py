"""An audit event is dated by the database, and keeps the names of who acted and for whom."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from registry import services
from registry.models import AuditEvent
from tests.factories import register_service, source_spec

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def test_an_audit_event_is_dated_by_the_database(staff):
    event = AuditEvent.objects.create(action=AuditEvent.Action.SERVICE_APPROVED, actor=staff)

    assert event.at is not None
    event.refresh_from_db()
    assert event.at > LONG_AGO


@pytest.mark.postgres
def test_an_audit_event_cannot_be_backdated(staff):
    event = AuditEvent.objects.create(
        action=AuditEvent.Action.SERVICE_APPROVED, actor=staff, at=LONG_AGO
    )

    event.refresh_from_db()
    assert event.at == database_now()


@pytest.mark.postgres
def test_an_audit_event_inserted_with_a_time_of_its_own_gets_the_databases():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_auditevent (action, detail, at) "
            "VALUES ('account.locked_out', '{}', %s) RETURNING at",
            [LONG_AGO],
        )
        [at] = cursor.fetchone()

    assert at == database_now()


def test_an_audit_event_keeps_the_names_of_who_acted_and_for_whom(
    staff, source_provider, data_types
):
    service = register_service(source_provider, source_spec())
    services.service_approve(service=service, actor=staff)
    organisation = source_provider.organisation
    names = (staff.username, organisation.name)
    staff.username, organisation.name = "renamed", "Renamed Oy"
    staff.save()
    organisation.save()

    event = AuditEvent.objects.get(action=AuditEvent.Action.SERVICE_APPROVED)

    assert (event.detail["actor_username"], event.detail["organisation_name"]) == names


def test_staff_find_an_event_by_the_name_it_kept(admin_client):
    from tests.factories import make_provider

    provider = make_provider(name="Vantaan kaupunki", business_id="0124610-9", username="it-1")
    services.credential_create(provider=provider, name="kept")
    provider.user.username = "it-2"
    provider.user.save()

    found = admin_client.get("/admin/registry/auditevent/", {"q": "it-1"})

    assert found.context["cl"].result_count == 1
    assert found.context["cl"].result_list[0].action == AuditEvent.Action.CREDENTIAL_CREATED
