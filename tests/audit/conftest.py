import pytest

from tests.factories import (
    grant_consent,
    link_resident,
    make_auditor,
    register_service,
    request_consent,
    sink_spec,
    source_spec,
)


@pytest.fixture
def auditor(db):
    return make_auditor()


@pytest.fixture
def wearable(source_provider, data_types, staff):
    return register_service(source_provider, source_spec(), approve_by=staff)


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    spec = sink_spec(webhook_url="https://sink.example.fi/hooks")
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def consent(wellbeing, wearable, aino):
    """Aino's consent to the wellbeing sink's request for her steps; her link comes first."""
    link_resident(aino, wearable)
    return grant_consent(request_consent(sink=wellbeing, source=wearable), aino)


@pytest.fixture
def as_auditor(client, auditor):
    """The auditor's browser, in English: the tests read the pages' texts."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(auditor)
    return client
