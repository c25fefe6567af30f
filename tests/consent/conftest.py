import pytest

from tests.factories import (
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)


@pytest.fixture
def wearable(source_provider, data_types, staff):
    """An approved source offering steps and heart rate, with a webhook."""
    return register_service(source_provider, source_spec(), approve_by=staff)


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    """An approved sink accepting steps, with a webhook."""
    spec = sink_spec(webhook_url="https://sink.example.fi/hooks")
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def consent_request(wellbeing, wearable):
    """Wellbeing asks for daily steps from the wearable, for 90 days."""
    return request_consent(sink=wellbeing, source=wearable)


@pytest.fixture
def linked(aino, wearable):
    """Aino's confirmed link to the wearable source."""
    return link_resident(aino, wearable)


@pytest.fixture
def consent(consent_request, aino, linked):
    """Aino's consent to `consent_request`, given in Finnish."""
    return grant_consent(consent_request, aino)
