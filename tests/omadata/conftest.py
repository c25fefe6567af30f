import io
import ipaddress
import shutil
import tempfile
from contextlib import redirect_stderr

import pytest
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils.log import configure_logging
from hypothesis.configuration import set_hypothesis_home_dir

from common import netguard
from ledger import keys
from tests.factories import FAST_HASHERS
from tests.world import DNS, build_world


@pytest.fixture
def log_output(settings):
    """What the console handler writes, with logging configured from LOGGING as Django does.

    Django configures logging once at start; the handlers it made then write to
    the test run's own stderr, which this test cannot read.
    """
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    yield buffer
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


def pytest_configure(config):
    """Hypothesis (under the schema fuzz) keeps a cache: in a directory of this run's, not
    in the checkout. It writes there while the fuzz module is collected, before any fixture."""
    config.hypothesis_home = tempfile.mkdtemp(prefix="omadata-hypothesis-")
    set_hypothesis_home_dir(config.hypothesis_home)


def pytest_unconfigure(config):
    shutil.rmtree(config.hypothesis_home, ignore_errors=True)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """tests/world.py's world, built once for a module, and rolled back after it.

    Tests that use it must leave it as they found it: `world_request` undoes each
    request, and pytest-django's rollback undoes each test (so it is not for
    transactional tests, whose data must be committed).
    What the function-scoped fixtures of tests/conftest.py do for one test
    (fast passwords, own keys, fake DNS) is done here for the module.
    """

    def resolve(host: str, port: int):
        return [ipaddress.ip_address(DNS[host])] if host in DNS else []

    folder = tmp_path_factory.mktemp("world-keys")
    hashers = FAST_HASHERS
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


@pytest.fixture
def in_process_requests():
    """Requests that reach the WSGI application keep the test's database connection.

    Django closes a connection at the end of each request; in a test that holds a
    transaction open, that would lose it. Django's test client does the same.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
