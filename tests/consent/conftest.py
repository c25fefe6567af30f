from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services
from consent.models import ServiceLink
from registry.models import Service
from tests.conftest import sink_spec, source_spec

NOTICE = "<p>Espoo asks for your steps.</p>"


@pytest.fixture
def wearable(source_provider, data_types, register, staff) -> Service:
    """An approved source offering steps and heart rate, with a webhook."""
    return register(source_provider, source_spec(), approve_by=staff)


@pytest.fixture
def wellbeing(sink_provider, data_types, register, staff) -> Service:
    """An approved sink accepting steps, with a webhook."""
    spec = sink_spec(webhook_url="https://sink.example.fi/hooks")
    return register(sink_provider, spec, approve_by=staff)


def request_spec(source: Service, **changes) -> dict:
    spec = {
        "source": source.id,
        "data_types": ["wellbeing.steps"],
        "purpose": {
            "fi": "Liikuntaohjelma.",
            "sv": "Motionsprogram.",
            "en": "An exercise programme.",
        },
        "purpose_category": "wellbeing",
        "valid_until": timezone.now() + timedelta(days=90),
        "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
        "return_url": "https://sink.example.fi/back",
        "state": "xyz",
        "subject_reference": "espoo-user-17",
    }
    spec.update(changes)
    return spec


@pytest.fixture
def consent_request(wellbeing, wearable):
    return services.consent_request_create(sink=wellbeing, spec=request_spec(wearable))


@pytest.fixture
def linked(aino, wearable) -> ServiceLink:
    """Aino's confirmed link to the wearable source."""
    url = services.link_start(resident=aino, service=wearable, return_to="https://x/back")
    token = url.split("link_token=")[1]
    return services.link_confirm(service=wearable, token=token, reference="watch-owner-1")


@pytest.fixture
def consent(consent_request, aino, linked):
    return services.consent_grant(
        request=consent_request, resident=aino, language="fi", notice_text=NOTICE
    )
