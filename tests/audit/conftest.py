import pytest

from ledger.log import log_integrate
from tests.factories import (
    grant_consent,
    link_resident,
    make_auditor,
    request_consent,
)


@pytest.fixture
def auditor(db):
    return make_auditor()


@pytest.fixture
def consent(wellbeing, wearable, aino):
    """Aino's consent to the wellbeing sink's request for her steps; her link comes first.

    The sequencer has integrated its receipts: the audit pages show them in the log.
    """
    link_resident(aino, wearable)
    consent = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
    log_integrate()
    return consent


@pytest.fixture
def as_auditor(client, auditor):
    """The auditor's browser, in English: the tests read the pages' texts."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(auditor)
    return client
