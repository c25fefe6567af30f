from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from consent import notifications, services
from consent.models import Notification
from registry.models import Service, ServiceLink
from tests.conftest import sink_spec, source_spec

CONSENT_ID = "9b0f7c1e-5d4a-4c55-9d8e-2f1a6b3c4d5e"


@pytest.fixture
def webhook_service(settings, register, sink_provider, staff, data_types, receiver) -> Service:
    """An approved sink whose webhook is the test's receiver on 127.0.0.1."""
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True
    return register(sink_provider, sink_spec(webhook_url=receiver.url), approve_by=staff)


@pytest.fixture
def queue_notification(client, receiver):
    """Queue a notification as a consent change would, and let the receiver trust the JWKS.

    The receiver gets the operator's keys as a service does: from
    /.well-known/jwks.json, after the first signature has published them.
    """

    def queue(service: Service) -> Notification:
        # Delivery is enqueued on commit: never, in a test that rolls back;
        # at the end of this block, in a transactional test.
        with transaction.atomic():
            notification = notifications._queue(
                service=service, event="consent.granted", data={"consent_id": CONSENT_ID}
            )
        receiver.trust(jwks=client.get("/.well-known/jwks.json").json(), audience=str(service.id))
        return notification

    return queue


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
        "frequency": {"frequency": "recurring", "limit": 1, "period": "day"},
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
