import pytest

from consent.models import ServiceLink
from registry.models import Service
from tests.conftest import make_provider, sink_spec, source_spec

# The consent app's fixtures, over this package's own source and sink below.
from tests.consent.conftest import consent, consent_request, linked  # noqa: F401
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
def wearable(settings, source_provider, data_types, register, staff, source, receiver) -> Service:
    """An approved source whose fetch URL is `source` and whose webhook is `receiver`."""
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True
    spec = source_spec(webhook_url=receiver.url)
    spec["source"] = {**spec["source"], "fetch_url": source.url}
    return register(source_provider, spec, approve_by=staff)


@pytest.fixture
def wellbeing(settings, sink_provider, data_types, register, staff, sink, receiver) -> Service:
    """An approved sink whose delivery URL is `sink` and whose webhook is `receiver`."""
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True
    spec = sink_spec(webhook_url=receiver.url)
    spec["sink"] = {**spec["sink"], "delivery_url": sink.url}
    return register(sink_provider, spec, approve_by=staff)


@pytest.fixture
def peers(client, consent, source, sink, wearable, wellbeing):  # noqa: F811
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
