import pytest

from tests.factories import (
    grant_consent,
    link_resident,
    request_consent,
)


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
