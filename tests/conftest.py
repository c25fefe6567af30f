"""Fixtures every package shares: the cast, the groups, and what each test or run keeps its own.

Fixtures are built from tests/factories.py. tests/workers.py, registered below,
adds this run's own broker and the `redis` and `broker` fixtures for real workers.
"""

import ipaddress

import pytest
from django.core.cache import cache
from django.test import override_settings

from common import netguard
from omadata.celery import app
from tests import factories, groups
from tests.servers import AcceptCounter, WebhookReceiver

pytest_plugins = ["tests.workers", "tests.tampering"]

GROUPS = ("postgres", "redis", "browser", "shell")
_not_run: dict[str, list[str]] = {}

# DNS would leave the machine, so tests resolve names from this table.
FAKE_DNS = {
    "wearable.example.fi": ["93.184.215.14"],
    "sink.example.fi": ["93.184.215.15"],
    "city.example.fi": ["93.184.215.18"],
    "hooks.example.fi": ["2606:2800:21f:cb07::1"],
    "internal.example.fi": ["10.1.2.3"],
    "router.example.fi": ["192.168.1.1"],
    "metadata.example.fi": ["169.254.169.254"],
    "cgnat.example.fi": ["100.64.0.1"],
    "loopback.example.fi": ["127.0.0.1"],
    "mapped.example.fi": ["::ffff:10.0.0.1"],
    "sixtofour.example.fi": ["2002:a00:1::1"],
    "ula.example.fi": ["fd12:3456::1"],
    "linklocal6.example.fi": ["fe80::1"],
    "mixed.example.fi": ["93.184.215.16", "192.168.0.10"],
    "mixed6.example.fi": ["2606:2800:21f:cb07::2", "fd00::2"],
    "private172.example.fi": ["172.16.5.4"],
    "unspecified.example.fi": ["0.0.0.0"],
    "multicast.example.fi": ["224.0.0.251"],
    "reserved.example.fi": ["240.0.0.1"],
    "loopback6.example.fi": ["::1"],
    "sitelocal6.example.fi": ["fec0::1"],
    "mappedloopback.example.fi": ["::ffff:127.0.0.1"],
    "compat.example.fi": ["::a00:1"],
    "teredo.example.fi": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "nat64.example.fi": ["64:ff9b::a00:1"],
    "localhost": ["127.0.0.1", "::1"],
    "xn--exmple-cua.fi": ["93.184.215.17"],  # exämple.fi: names are looked up as A-labels
}


def pytest_configure(config):
    if groups.in_ci():
        # CI runs against the real parts; a run on SQLite would prove less than it claims.
        missing = {g: groups.unavailable(g) for g in GROUPS}
        missing = {g: why for g, why in missing.items() if why}
        if missing:
            lines = "; ".join(f"{g}: {why}" for g, why in missing.items())
            raise pytest.UsageError(f"CI=true but some real parts are missing: {lines}")


def pytest_runtest_setup(item):
    for group in GROUPS:
        if item.get_closest_marker(group) is None:
            continue
        reason = groups.unavailable(group)
        if reason is None:
            continue
        if groups.in_ci():
            pytest.fail(f"{group} is required in CI: {reason}")
        _not_run.setdefault(group, []).append(item.nodeid)
        pytest.skip(f"{group}: {reason}")


def pytest_terminal_summary(terminalreporter):
    if not _not_run:
        return
    terminalreporter.section("groups not run")
    for group, nodeids in _not_run.items():
        reason = groups.unavailable(group)
        terminalreporter.write_line(f"{group}: {len(nodeids)} tests not run, because {reason}")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """Keep an SQLite test database in a file: worker processes that tests start open it too.

    Django would put it in memory, where only the test process can see it.
    PostgreSQL needs nothing: its test database has a name any process can use.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tmp_path_factory.mktemp("database")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    def resolve(host: str, port: int):
        return [ipaddress.ip_address(a) for a in FAKE_DNS.get(host.lower(), [])]

    monkeypatch.setattr(netguard, "resolve_host", resolve)
    return FAKE_DNS


@pytest.fixture(scope="session", autouse=True)
def run_var_dir(tmp_path_factory):
    """This run's var/ directory, for this process and the processes it starts.

    What the operator keeps under var/ (the broker's messages, demo state) stays
    out of the checkout's var/, which `make run` uses.
    """
    folder = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as patch, override_settings(VAR_DIR=folder):
        patch.setenv("OMADATA_VAR_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def run_cache():
    """This run's own cache, in memory: never the checkout's var/cache nor a shared Redis.

    The processes that tests start have no OMADATA_CACHE_URL, and no Redis broker
    unless a test gives them a private one: they count in files under the run's var/.
    """
    in_memory = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with pytest.MonkeyPatch.context() as patch, override_settings(CACHES=in_memory):
        patch.delenv("OMADATA_CACHE_URL", raising=False)
        yield


@pytest.fixture(autouse=True)
def _rate_limits_from_zero(run_cache):
    """Each test's requests count from zero: the rate limits keep their counts in the cache."""
    cache.clear()


@pytest.fixture(autouse=True)
def _registry_read_afresh():
    """Each test starts with nothing kept from the registry: the database rolled back
    the last test's rows, and with them its generation token (registry/generation.py)."""
    from registry import generation

    generation.forget()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = factories.FAST_HASHERS


@pytest.fixture(autouse=True)
def _loopback_refused(settings):
    """Service URLs on loopback are refused, as in production, whatever the environment says."""
    settings.OMADATA_ALLOW_LOOPBACK_URLS = False


@pytest.fixture
def loopback_allowed(settings):
    """Service URLs on 127.0.0.1 are allowed: for tests whose peers are real servers there."""
    settings.OMADATA_ALLOW_LOOPBACK_URLS = True


@pytest.fixture(autouse=True)
def _own_signing_keys(settings, tmp_path, monkeypatch):
    """Each test signs with keys of its own, in a directory of its own."""
    from ledger import keys

    monkeypatch.delenv("OMADATA_SIGNING_KEY", raising=False)
    settings.OMADATA_KEYS_DIR = tmp_path / "keys"
    keys.forget_recorded()
    yield
    keys.forget_recorded()


@pytest.fixture
def live_operator(live_server, settings) -> str:
    """The operator as a live server that names itself by its URL (in tokens, in links)."""
    settings.BASE_URL = live_server.url
    return live_server.url


@pytest.fixture
def deliver_in_process():
    """Tasks run where they are enqueued, after commit (in the live server's thread too).

    For tests about a flow, not about workers: real worker processes are proven
    in test_relay_worker and test_notification_worker.
    """
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (tests/servers.py)."""
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def accept_counter():
    """A listening socket that counts connections: proof that none was made."""
    counter = AcceptCounter().start()
    yield counter
    counter.stop()


# -- the cast -----------------------------------------------------------------


@pytest.fixture
def data_types(db):
    return factories.make_data_types()


@pytest.fixture
def sink_provider(db):
    """Espoo's wellbeing team: registers sinks."""
    return factories.make_provider(
        name="Espoon kaupunki", business_id="0101263-6", username="espoo"
    )


@pytest.fixture
def source_provider(db):
    """A smartwatch vendor: registers sources."""
    return factories.make_provider(
        name="Askel Wearables Oy", business_id="2345678-0", username="askel"
    )


@pytest.fixture
def wearable(source_provider, data_types, staff):
    """An approved source offering steps and heart rate, with a webhook."""
    return factories.register_service(source_provider, factories.source_spec(), approve_by=staff)


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    """An approved sink accepting steps, with a webhook."""
    spec = factories.sink_spec(webhook_url="https://sink.example.fi/hooks")
    return factories.register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def city(data_types, staff):
    """Helsinki's records: an approved source of contact details, with a webhook."""
    helsinki = factories.make_provider(
        name="Helsingin kaupunki", business_id="0201256-6", username="helsinki"
    )
    return factories.register_service(helsinki, factories.city_spec(), approve_by=staff)


@pytest.fixture
def joiner(sink_provider, data_types, staff):
    """Espoo's sink that takes steps, heart rate and contact details: from several sources.
    It ranks daily steps into activity levels with one algorithm."""
    spec = factories.sink_spec(
        slug="joiner", webhook_url="https://sink.example.fi/hooks",
        sink={"delivery_url": "https://sink.example.fi/deliver",
              "data_types": ["wellbeing.steps", "wellbeing.heart_rate", "city.contact_details"]},
        transparency=factories.automated(), algorithms=[factories.algorithm_spec()],
    )  # fmt: skip
    return factories.register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def staff(db):
    return factories.make_user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def aino(db):
    """A resident."""
    return factories.make_user("aino")


@pytest.fixture
def eero(db):
    """Another resident, with no part in Aino's consents."""
    return factories.make_user("eero")


@pytest.fixture
def database_refuses():
    """Make the database itself refuse some inserts, as a column limit or an outage would.

    `refuse(table, when)` installs a trigger, on PostgreSQL or SQLite, that fails
    every insert into `table` for which the SQL condition `when` (on NEW) holds;
    by default, every insert. It is made inside the test's transaction, and goes
    when that rolls back.
    """
    from django.db import connection

    def refuse(table: str, when: str = "1 = 1") -> None:
        name = f"omadata_test_refuse_{table}"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                    f"WHEN ({when}) EXECUTE FUNCTION {name}()"
                )
            else:
                cursor.execute(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )

    return refuse
