import ipaddress

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from common import netguard
from registry import services
from registry.models import DataType, Service
from tests import groups
from tests.servers import AcceptCounter, WebhookReceiver
from tests.workers import broker, redis  # noqa: F401 -- fixtures for real worker processes

GROUPS = ("postgres", "redis", "browser", "shell")
_not_run: dict[str, list[str]] = {}

# DNS would leave the machine, so tests resolve names from this table.
FAKE_DNS = {
    "wearable.example.fi": ["93.184.215.14"],
    "sink.example.fi": ["93.184.215.15"],
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


@pytest.fixture(autouse=True)
def _fast_passwords(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.OMADATA_ALLOW_LOOPBACK_URLS = False


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
    def make(key, sensitive=False):
        title = key.split(".")[-1]
        return DataType.objects.create(
            key=key, title_fi=title, title_sv=title, title_en=title, sensitive=sensitive
        )

    return {
        "wellbeing.steps": make("wellbeing.steps"),
        "wellbeing.heart_rate": make("wellbeing.heart_rate", sensitive=True),
        "city.contact_details": make("city.contact_details"),
    }


def make_provider(*, name: str, business_id: str, username: str):
    organisation = services.organisation_create(
        name=name, business_id=business_id, contact_email=f"{username}@example.fi"
    )
    return services.provider_create(
        organisation=organisation, username=username, email=f"{username}@example.fi",
        password="correct horse battery",
    )  # fmt: skip


@pytest.fixture
def sink_provider(db):
    """Espoo's wellbeing team: registers sinks."""
    return make_provider(name="Espoon kaupunki", business_id="0101263-6", username="espoo")


@pytest.fixture
def source_provider(db):
    """A smartwatch vendor: registers sources."""
    return make_provider(name="Askel Wearables Oy", business_id="2345678-0", username="askel")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        username="staff", password="correct horse battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def aino(db):
    """A resident."""
    return get_user_model().objects.create_user(username="aino", password="correct horse battery")


@pytest.fixture
def eero(db):
    """Another resident, with no part in Aino's consents."""
    return get_user_model().objects.create_user(username="eero", password="correct horse battery")


def source_spec(slug="wearable", **changes) -> dict:
    spec = {
        "slug": slug,
        "name": {"fi": "Askel-kello", "sv": "Askel-klocka", "en": "Askel watch"},
        "description": {"fi": "Kello.", "sv": "Klocka.", "en": "A watch."},
        "privacy_policy_url": "https://wearable.example.fi/privacy",
        "source": {
            "fetch_url": "https://wearable.example.fi/data",
            "link_url": "https://wearable.example.fi/link",
            "data_types": ["wellbeing.steps", "wellbeing.heart_rate"],
        },
        "webhook_url": "https://wearable.example.fi/hooks",
    }
    spec.update(changes)
    return spec


def sink_spec(slug="wellbeing", **changes) -> dict:
    spec = {
        "slug": slug,
        "name": {"fi": "Hyvinvointi", "sv": "Välmående", "en": "Wellbeing"},
        "description": {"fi": "Ohjelma.", "sv": "Program.", "en": "A programme."},
        "privacy_policy_url": "https://sink.example.fi/privacy",
        "sink": {
            "delivery_url": "https://sink.example.fi/deliver",
            "data_types": ["wellbeing.steps"],
        },
    }
    spec.update(changes)
    return spec


@pytest.fixture
def register():
    """Register a service directly through the service layer."""

    def do(provider, spec: dict, *, approve_by=None) -> Service:
        full = {"transparency": {"automated_decisions": False, "profiling": False}, **spec}
        service = services.service_register(
            organisation=provider.organisation, actor=provider.user, spec=full
        )
        if approve_by is not None:
            service = services.service_approve(service=service, actor=approve_by)
        return service

    return do


@pytest.fixture
def token_for(client):
    """Get an access token from /o/token/ the way a service would."""

    def get(provider, scope: str = "services:read services:write") -> str:
        _application, secret = services.credential_create(provider=provider, name="test")
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "scope": scope},
            HTTP_AUTHORIZATION=basic_auth(_application.client_id, secret),
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return get


def basic_auth(client_id: str, secret: str) -> str:
    """An HTTP Basic Authorization header value, as OAuth2 clients send their credentials."""
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def api_as(token_for):
    """An API client holding a token for `provider` with the given scopes."""

    def make(provider, scope: str = "services:read services:write") -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(provider, scope)}")
        return api

    return make
