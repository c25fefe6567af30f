import pytest

from common import netguard

# Taken when this module loads, before the autouse fake_dns fixture replaces it.
REAL_RESOLVE_HOST = netguard.resolve_host


@pytest.fixture
def real_dns(fake_dns, monkeypatch):
    """The system resolver (getaddrinfo) instead of the FAKE_DNS table.

    Only for names that never leave the machine: `localhost` and literal addresses.
    """
    monkeypatch.setattr(netguard, "resolve_host", REAL_RESOLVE_HOST)
