import pytest
from django.db import transaction

from registry.models import Service
from tests.factories import register_service, sink_spec
from webhooks import services as notifications
from webhooks.models import Notification


@pytest.fixture
def webhook_service(loopback_allowed, sink_provider, staff, data_types, receiver) -> Service:
    """An approved sink whose webhook is the test's receiver on 127.0.0.1."""
    return register_service(sink_provider, sink_spec(webhook_url=receiver.url), approve_by=staff)


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
            notification = notifications.notify(
                service=service,
                event="consent.granted",
                data={"consent_id": "9b0f7c1e-5d4a-4c55-9d8e-2f1a6b3c4d5e"},
            )
        receiver.trust(jwks=client.get("/.well-known/jwks.json").json(), audience=str(service.id))
        return notification

    return queue
