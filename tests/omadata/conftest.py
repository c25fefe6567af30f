import ipaddress

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from common import netguard
from ledger import keys
from tests.world import DNS, build_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """tests/world.py's world, built once for a module, and rolled back after it.

    Tests that use it must leave it as they found it: `world_request` does.
    What the function-scoped fixtures of tests/conftest.py do for one test
    (fast passwords, own keys, fake DNS) is done here for the module.
    """

    def resolve(host: str, port: int):
        return [ipaddress.ip_address(DNS[host])] if host in DNS else []

    folder = tmp_path_factory.mktemp("world-keys")
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=hashers, OMADATA_KEYS_DIR=folder),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(netguard, "resolve_host", resolve)
        patch.delenv("OMADATA_SIGNING_KEY", raising=False)
        keys.forget_recorded()
        with transaction.atomic():
            built = build_world()
            patch.undo()
            yield built
            transaction.set_rollback(True)
        keys.forget_recorded()


@pytest.fixture(scope="module")
def clients(world):
    """A test client for each persona of the world, logged in or holding its token."""
    return {name: persona.client() for name, persona in world.personas.items()}


@pytest.fixture
def world_request(db):
    """Send one request and then undo what it did: the database, the cache and the cookies.

    `send(client, method, path, **extra)` answers the response. Every request of a
    test starts from the same world, whatever the requests before it changed.
    """

    def send(client, method: str, path: str, **extra):
        cookies = client.cookies
        client.cookies = type(cookies)(cookies)
        try:
            with transaction.atomic():
                response = getattr(client, method.lower())(path, **extra)
                transaction.set_rollback(True)
        finally:
            client.cookies = cookies
            cache.clear()
        return response

    return send
