import pytest

from consent.models import ServiceLink
from tests.factories import (
    grant_consent,
    link_resident,
    make_provider,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)
from tests.servers import TransferPeer


@pytest.fixture
def source():
    """The wearable's fetch endpoint: a real server on 127.0.0.1 that checks its tokens."""
    server = TransferPeer().start()
    yield server
    server.stop()


@pytest.fixture
def sink():
    """The wellbeing programme's delivery endpoint, likewise."""
    server = TransferPeer().start()
    yield server
    server.stop()


@pytest.fixture
def wearable(loopback_allowed, source_provider, data_types, staff, source, receiver):
    """An approved source whose fetch URL is `source` and whose webhook is `receiver`."""
    spec = source_spec(webhook_url=receiver.url)
    spec["source"] = {**spec["source"], "fetch_url": source.url}
    return register_service(source_provider, spec, approve_by=staff)


@pytest.fixture
def wellbeing(loopback_allowed, sink_provider, data_types, staff, sink, receiver):
    """An approved sink whose delivery URL is `sink` and whose webhook is `receiver`."""
    spec = sink_spec(webhook_url=receiver.url)
    spec["sink"] = {**spec["sink"], "delivery_url": sink.url}
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def consent(wellbeing, wearable, aino):
    """Aino's consent for wellbeing to get her daily steps from the wearable, her link in place."""
    request = request_consent(sink=wellbeing, source=wearable)
    link_resident(aino, wearable)
    return grant_consent(request, aino)


@pytest.fixture
def peers(client, consent, source, sink, wearable, wellbeing):
    """Source and sink trust the operator's JWKS and know the resident's pairwise ids."""
    jwks = client.get("/.well-known/jwks.json").json()
    for server, service in ((source, wearable), (sink, wellbeing)):
        subject = ServiceLink.objects.get(
            resident=consent.resident, service=service, status=ServiceLink.Status.ACTIVE
        ).subject
        server.trust_bearer(jwks=jwks, audience=str(service.id), subject=subject)
    return source, sink


@pytest.fixture
def other_sink_provider(db):
    """Vantaa: a sink provider with no part in Aino's consent."""
    return make_provider(name="Vantaan kaupunki", business_id="0124610-9", username="vantaa")


@pytest.fixture
def fast_backoff(settings):
    settings.OMADATA_RELAY_BACKOFF_BASE = 0.001
    settings.OMADATA_RELAY_BACKOFF_CAP = 0.01
