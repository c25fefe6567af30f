"""Races that only a real database server shows."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from registry import services
from registry.models import AuditEvent, Service
from tests.factories import source_spec

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_registrations_racing_for_one_slug_leave_one_service(
    source_provider, sink_provider, data_types
):
    barrier = threading.Barrier(2)
    outcomes = []
    spec = {**source_spec(), "transparency": {"automated_decisions": False, "profiling": False}}

    def register(provider):
        barrier.wait()
        try:
            services.service_register(
                organisation=provider.organisation, actor=provider.user, spec=spec
            )
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(error.error_dict["slug"][0].code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=register, args=(p,)) for p in (source_provider, sink_provider)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["created", "duplicate"]
    assert Service.objects.count() == 1
    assert AuditEvent.objects.filter(action="service.registered").count() == 1
