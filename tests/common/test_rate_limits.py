"""Rate limits: a client past its limit gets 429 rate_limited with Retry-After; no one else does."""

import base64
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from common.api import ApiView
from common.env import Rate
from common.throttles import AnonymousThrottle
from registry import services as registry_services
from tests.factories import api_as, auditor_token, basic_auth, make_auditor
from tests.servers import free_port

ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def assert_rate_limited(response, *, within: int) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= within
    assert f"{response['Retry-After']} second" in response.json()["message"]


def statuses(responses) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


@pytest.fixture
def credential(sink_provider):
    """An OAuth2 client of Espoo's: (client_id, secret)."""
    application, secret = registry_services.credential_create(provider=sink_provider, name="x")
    return application.client_id, secret


@pytest.fixture
def other_credential(source_provider):
    """Another service provider's OAuth2 client: (client_id, secret)."""
    application, secret = registry_services.credential_create(provider=source_provider, name="y")
    return application.client_id, secret


def ask_token(client_id: str, secret: str, *, address: str = ATTACKER):
    return Client().post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret), REMOTE_ADDR=address,
    )  # fmt: skip


# -- the API, per OAuth2 application ---------------------------------------------


def test_300_calls_from_one_client_meet_429_with_retry_after(sink_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(50, 60)
    api = api_as(sink_provider, "services:read")

    answers = [api.get("/api/v1/organisation") for _ in range(300)]

    assert statuses(answers) == {200: 50, 429: 250}
    assert [a.status_code for a in answers[:50]] == [200] * 50
    assert_rate_limited(answers[-1], within=60)


def test_every_token_of_one_client_counts_together(sink_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(4, 60)
    application, secret = registry_services.credential_create(provider=sink_provider, name="x")
    tokens = [ask_token(application.client_id, secret).json()["access_token"] for _ in range(2)]
    apis = [APIClient(HTTP_AUTHORIZATION=f"Bearer {token}") for token in tokens]

    answers = [api.get("/api/v1/organisation") for api in apis for _ in range(3)]

    assert statuses(answers) == {200: 4, 429: 2}


def test_another_client_keeps_its_own_api_limit(sink_provider, source_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(5, 60)
    busy, other = api_as(sink_provider, "services:read"), api_as(source_provider, "services:read")
    for _ in range(10):
        busy.get("/api/v1/organisation")

    assert busy.get("/api/v1/organisation").status_code == 429
    assert other.get("/api/v1/organisation").status_code == 200


def test_an_api_client_may_call_again_once_the_window_has_passed(sink_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(5, 60)
    api = api_as(sink_provider, "services:read")
    for _ in range(5):
        api.get("/api/v1/organisation")
    refused = api.get("/api/v1/organisation")
    assert refused.status_code == 429

    with time_machine.travel(timezone.now() + timedelta(seconds=int(refused["Retry-After"]))):
        assert api.get("/api/v1/organisation").status_code == 200


def test_a_limit_that_is_off_counts_nothing(sink_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = None
    api = api_as(sink_provider, "services:read")
    unlimited = [api.get("/api/v1/organisation") for _ in range(100)]

    settings.OMADATA_RATE_API_CLIENT = Rate(5, 60)
    limited = [api.get("/api/v1/organisation") for _ in range(6)]

    assert statuses(unlimited) == {200: 100}
    assert [a.status_code for a in limited] == [200] * 5 + [429]


def test_clients_of_one_organisation_share_its_limit(sink_provider, source_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(100, 60)
    settings.OMADATA_RATE_API_ORGANISATION = Rate(6, 60)
    clients = [api_as(sink_provider, "services:read") for _ in range(3)]

    answers = [api.get("/api/v1/organisation") for api in clients for _ in range(4)]

    assert statuses(answers) == {200: 6, 429: 6}
    assert_rate_limited(answers[-1], within=60)
    assert api_as(source_provider, "services:read").get("/api/v1/organisation").status_code == 200


def test_calls_one_limit_refuses_use_up_no_other(sink_provider, settings):
    settings.OMADATA_RATE_API_CLIENT = Rate(5, 60)
    settings.OMADATA_RATE_API_ORGANISATION = Rate(8, 60)
    busy, other = api_as(sink_provider, "services:read"), api_as(sink_provider, "services:read")
    for _ in range(20):
        busy.get("/api/v1/organisation")  # 5 go through; the client's limit refuses 15

    answers = [other.get("/api/v1/organisation") for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 3 + [429] * 2


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-token", "Bearer ", "Basic eDp5", None], ids=str
)
def test_calls_without_a_valid_token_meet_429_per_address(db, settings, authorization):
    settings.OMADATA_RATE_ANONYMOUS = Rate(20, 60)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    client = Client(REMOTE_ADDR=ATTACKER, **headers)

    answers = [client.get("/api/v1/organisation") for _ in range(30)]

    assert statuses(answers) == {401: 20, 429: 10}
    assert_rate_limited(answers[-1], within=60)


@pytest.mark.redis
def test_counting_is_exact_when_requests_arrive_together(redis, settings):
    """Many threads at once, as many web processes would be, against one Redis."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}
    }
    settings.OMADATA_RATE_ANONYMOUS = Rate(50, 60)
    threads, rounds = 16, 10
    start = threading.Barrier(threads)
    allowed = []

    def send() -> None:
        request = RequestFactory().get("/api/v1/services", REMOTE_ADDR=ATTACKER)
        for _ in range(rounds):
            start.wait()
            allowed.append(AnonymousThrottle().allow_request(request, None))

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert allowed.count(True) == 50


# -- anonymous calls, per address ---------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/services", "/api/v1/data-types", "/api/v1/audit/consistency?first=1&second=1"]
)
def test_anonymous_calls_meet_429_per_address(client, db, settings, path):
    settings.OMADATA_RATE_ANONYMOUS = Rate(20, 60)

    answers = [client.get(path, REMOTE_ADDR=ATTACKER) for _ in range(100)]

    assert statuses(answers).get(429) == 80
    assert_rate_limited(answers[-1], within=60)


def test_another_address_keeps_its_own_anonymous_limit(client, db, settings):
    settings.OMADATA_RATE_ANONYMOUS = Rate(20, 60)
    for _ in range(30):
        client.get("/api/v1/services", REMOTE_ADDR=ATTACKER)

    assert client.get("/api/v1/services", REMOTE_ADDR=ATTACKER).status_code == 429
    assert client.get("/api/v1/services", REMOTE_ADDR=ELSEWHERE).status_code == 200


@pytest.fixture
def auditor_api(db) -> APIClient:
    api = APIClient()
    token = auditor_token(make_auditor())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_checkpoint_signing_has_a_tight_limit(auditor_api, settings):
    limit = settings.OMADATA_RATE_CHECKPOINT_SIGN

    answers = [
        auditor_api.post("/api/v1/audit/checkpoints", REMOTE_ADDR=ATTACKER) for _ in range(200)
    ]

    assert limit.requests <= 10
    assert statuses(answers) == {200: limit.requests, 429: 200 - limit.requests}
    assert_rate_limited(answers[-1], within=limit.seconds)


def test_reading_the_latest_checkpoint_is_not_signing(client, auditor_api, settings):
    settings.OMADATA_RATE_CHECKPOINT_SIGN = Rate(1, 3600)
    signings = [
        auditor_api.post("/api/v1/audit/checkpoints", REMOTE_ADDR=ATTACKER) for _ in range(2)
    ]

    answers = [
        client.get("/api/v1/audit/checkpoints/latest", REMOTE_ADDR=ATTACKER) for _ in range(5)
    ]

    assert [s.status_code for s in signings] == [200, 429]
    assert statuses(answers) == {200: 5}


# -- the OAuth2 endpoints, per client_id and per address ------------------------------


def test_the_right_secret_after_100_wrong_ones_is_refused(credential):
    client_id, secret = credential
    wrong = [ask_token(client_id, f"guess-{n}") for n in range(100)]

    right = ask_token(client_id, secret)

    assert wrong[0].status_code == 401
    assert_rate_limited(right, within=60)
    assert "access_token" not in right.json()


def test_the_right_secret_works_again_once_the_window_has_passed(credential):
    client_id, secret = credential
    for n in range(100):
        ask_token(client_id, f"guess-{n}")
    refused = ask_token(client_id, secret)

    with time_machine.travel(timezone.now() + timedelta(seconds=int(refused["Retry-After"]))):
        assert ask_token(client_id, secret).status_code == 200


def test_another_client_gets_its_token_meanwhile(credential, other_credential):
    client_id, secret = credential
    for n in range(100):
        ask_token(client_id, f"guess-{n}")

    assert ask_token(client_id, secret).status_code == 429
    assert ask_token(*other_credential).status_code == 200


def test_a_secret_in_the_form_counts_against_its_client_id(credential):
    client_id, secret = credential
    for _ in range(100):
        Client().post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "no"},
            REMOTE_ADDR=ATTACKER,
        )

    assert_rate_limited(ask_token(client_id, secret), within=60)


def test_one_address_naming_many_clients_is_limited(credential, settings):
    settings.OMADATA_RATE_TOKEN_ADDRESS = Rate(10, 60)
    for _ in range(10):
        ask_token(str(uuid.uuid4()), "guess")

    assert_rate_limited(ask_token(*credential), within=60)
    assert ask_token(*credential, address=ELSEWHERE).status_code == 200


def test_wrong_secrets_from_one_address_leave_the_client_its_token_elsewhere(credential):
    client_id, secret = credential
    for n in range(100):
        ask_token(client_id, f"guess-{n}")

    assert ask_token(client_id, secret).status_code == 429
    assert ask_token(client_id, secret, address=ELSEWHERE).status_code == 200


def test_wrong_secrets_from_many_addresses_meet_the_clients_ceiling(credential, settings):
    settings.OMADATA_RATE_TOKEN_CLIENT = Rate(20, 60)
    client_id, secret = credential
    for n in range(30):
        ask_token(client_id, f"guess-{n}", address=f"192.0.2.{n}")

    assert_rate_limited(ask_token(client_id, secret, address=ELSEWHERE), within=60)


def test_a_clients_own_tokens_do_not_use_up_its_limits(credential, settings):
    settings.OMADATA_RATE_TOKEN_CLIENT_ADDRESS = Rate(3, 60)
    settings.OMADATA_RATE_TOKEN_CLIENT = Rate(3, 60)
    client_id, secret = credential

    answers = [ask_token(client_id, secret) for _ in range(10)]

    assert statuses(answers) == {200: 10}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _with_junk(encoded: str) -> str:
    """Base64 with characters outside its alphabet, which a lenient decoder skips."""
    return "!".join(encoded)


# Each sends a wrong secret for the victim's client_id in a form that
# django-oauth-toolkit checks, while the header names some other client or none.
GUESSES = {
    "basic-lenient-base64": lambda victim: (
        {"HTTP_AUTHORIZATION": "Basic " + _with_junk(_b64(f"{victim}:guess"))}, {}
    ),
    "basic-form-encoded-id": lambda victim: (
        {"HTTP_AUTHORIZATION": "Basic " + _b64(f"%{ord(victim[0]):02X}{victim[1:]}:guess")},
        {},
    ),
    "unknown-basic-then-body": lambda victim: (
        {"HTTP_AUTHORIZATION": basic_auth(str(uuid.uuid4()), "guess")},
        {"client_id": victim, "client_secret": "guess"},
    ),
    "undecodable-basic-then-body": lambda victim: (
        {"HTTP_AUTHORIZATION": "Basic %%%"}, {"client_id": victim, "client_secret": "guess"}
    ),
    "lowercase-scheme-then-body": lambda victim: (
        {"HTTP_AUTHORIZATION": "basic " + _b64(f"{uuid.uuid4()}:guess")},
        {"client_id": victim, "client_secret": "guess"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("form", GUESSES)
def test_guesses_in_every_form_count_against_the_client(credential, settings, form):
    settings.OMADATA_RATE_TOKEN_CLIENT_ADDRESS = Rate(5, 60)
    client_id, secret = credential
    headers, body = GUESSES[form](client_id)
    guesses = [
        Client().post(
            "/o/token/",
            {"grant_type": "client_credentials", **body},
            REMOTE_ADDR=ATTACKER,
            **headers,
        )
        for _ in range(5)
    ]

    # Naming two clients is refused before either is checked: 400, and a failure all the same.
    refused = 400 if form == "unknown-basic-then-body" else 401
    assert [g.status_code for g in guesses] == [refused] * 5
    assert_rate_limited(ask_token(client_id, secret), within=60)


def test_a_client_id_in_the_query_string_counts_at_introspection(credential, settings):
    """Introspection reads the client's credentials from the query string as well as the body."""
    settings.OMADATA_RATE_TOKEN_CLIENT_ADDRESS = Rate(5, 60)
    client_id, secret = credential
    guesses = [
        Client().post(
            f"/o/introspect/?client_id={client_id}",
            {"token": "x", "client_secret": "guess"},
            REMOTE_ADDR=ATTACKER,
        )
        for _ in range(5)
    ]

    answer = Client().post(
        f"/o/introspect/?client_id={client_id}", {"token": "x", "client_secret": secret},
        REMOTE_ADDR=ATTACKER,
    )  # fmt: skip

    assert [g.status_code for g in guesses] == [403] * 5
    assert_rate_limited(answer, within=60)


def test_guesses_refused_for_their_address_do_not_use_up_the_clients_limit(credential, settings):
    settings.OMADATA_RATE_TOKEN_ADDRESS = Rate(5, 60)
    settings.OMADATA_RATE_TOKEN_CLIENT = Rate(10, 60)
    client_id, secret = credential
    for n in range(100):
        ask_token(client_id, f"guess-{n}")

    assert ask_token(client_id, secret, address=ELSEWHERE).status_code == 200


@pytest.mark.parametrize("path", ["/o/revoke_token/", "/o/introspect/"])
def test_revocation_and_introspection_are_limited_too(credential, settings, path):
    settings.OMADATA_RATE_TOKEN_CLIENT_ADDRESS = Rate(5, 60)
    client_id, _secret = credential
    wrong = basic_auth(client_id, "guess")
    answers = [
        Client().post(path, {"token": "x"}, HTTP_AUTHORIZATION=wrong, REMOTE_ADDR=ATTACKER)
        for _ in range(6)
    ]

    assert_rate_limited(answers[-1], within=60)


def test_the_limited_token_endpoint_still_takes_no_csrf_token(credential):
    client_id, secret = credential

    response = Client(enforce_csrf_checks=True).post(
        "/o/token/", {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    )  # fmt: skip

    assert response.status_code == 200


# -- the cache that keeps the counts -----------------------------------------------------


def test_the_api_answers_when_the_cache_does_not(sink_provider, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    api = api_as(sink_provider, "services:read")

    assert api.get("/api/v1/organisation").status_code == 200
    assert "rate limit api_client not checked: the cache failed" in caplog.text


def _views(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        else:
            yield getattr(pattern.callback, "cls", None)


def test_every_api_view_checks_its_limits_before_its_permissions():
    api_views = {view for view in _views(get_resolver().url_patterns) if view is not None}

    assert api_views
    assert [view for view in api_views if issubclass(view, APIView)] == [
        view for view in api_views if issubclass(view, ApiView)
    ]


def test_a_guess_riding_on_another_clients_credentials_is_refused_and_counted(
    credential, other_credential, settings
):
    """Basic for the victim with a guessed secret, the body for the attacker's own client:
    DOT would fall back to the body and answer 200, handing back the guess's count."""
    settings.OMADATA_RATE_TOKEN_CLIENT_ADDRESS = Rate(5, 60)
    victim, secret = credential
    own_id, own_secret = other_credential

    answers = [
        Client().post(
            "/o/token/",
            {"grant_type": "client_credentials", "client_id": own_id, "client_secret": own_secret},
            HTTP_AUTHORIZATION=basic_auth(victim, f"guess-{n}"),
            REMOTE_ADDR=ATTACKER,
        )
        for n in range(5)
    ]

    assert statuses(answers) == {400: 5}
    assert answers[0].json()["error"] == "invalid_request"
    assert ask_token(victim, secret).status_code == 429
    assert ask_token(victim, secret, address=ELSEWHERE).status_code == 200


def test_the_right_secret_riding_on_another_client_is_refused_alike(credential, other_credential):
    victim, secret = credential
    own_id, own_secret = other_credential

    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": own_id, "client_secret": own_secret},
        HTTP_AUTHORIZATION=basic_auth(victim, secret), REMOTE_ADDR=ATTACKER,
    )  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_form_body_that_is_not_utf8_is_a_400_even_in_development(credential, settings):
    """Django's debug page read the body again, and failed: a 500 in development."""
    settings.DEBUG = True

    answer = Client().post(
        "/o/token/", b"grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded; charset=utf-16",
        HTTP_AUTHORIZATION=basic_auth(*credential), REMOTE_ADDR=ATTACKER,
    )  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_encoding"
