"""Access tokens kept briefly in the cache: revoked ones still stop, at once or within
OMADATA_TOKEN_CACHE_SECONDS, and none outlives its expiry."""

import pickle
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from rest_framework.test import APIClient

from registry import services
from registry.tokens import token_cache_get, token_cache_set, token_checksum
from tests.factories import basic_auth

pytestmark = pytest.mark.django_db


def issue(client, provider) -> tuple:
    """A new credential and its token: (application, Authorization header value, token)."""
    application, secret = services.credential_create(provider=provider, name="test")
    auth = basic_auth(application.client_id, secret)
    answer = client.post(
        "/o/token/", {"grant_type": "client_credentials", "scope": "services:read"},
        HTTP_AUTHORIZATION=auth,
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    return application, auth, answer.json()["access_token"]


def read(token: str):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api.get("/api/v1/organisation/services")


def refused(answer) -> bool:
    return answer.status_code == 401 and answer.json()["code"] == "invalid_token"


def test_a_deactivated_owners_token_is_refused_within_the_cache_time(client, source_provider):
    _application, _auth, token = issue(client, source_provider)
    assert read(token).status_code == 200  # now in the cache

    source_provider.user.is_active = False
    source_provider.user.save()
    later = timezone.now() + timedelta(seconds=settings.OMADATA_TOKEN_CACHE_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        answer = read(token)

    assert refused(answer)


def test_without_the_cache_a_deactivated_owners_token_is_refused_at_once(
    client, source_provider, settings
):
    settings.OMADATA_TOKEN_CACHE_SECONDS = 0
    _application, _auth, token = issue(client, source_provider)
    assert read(token).status_code == 200

    source_provider.user.is_active = False
    source_provider.user.save()

    assert refused(read(token))


def test_a_cached_token_is_refused_once_it_expires(client, source_provider):
    _application, _auth, token = issue(client, source_provider)
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    with time_machine.travel(timezone.now() + timedelta(seconds=lifetime - 2), tick=False):
        assert read(token).status_code == 200  # kept for the two seconds it has left

    with time_machine.travel(timezone.now() + timedelta(seconds=lifetime + 1), tick=False):
        answer = read(token)

    assert refused(answer)


@pytest.fixture
def shared_cache(redis, settings):
    """The cache as in production: a Redis that every web process shares."""
    backend = "django.core.cache.backends.redis.RedisCache"
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": redis.url}}


@pytest.mark.redis
def test_a_token_revoked_at_the_endpoint_is_refused_at_once_from_redis(
    client, source_provider, shared_cache
):
    _application, auth, token = issue(client, source_provider)
    assert read(token).status_code == 200
    assert read(token).status_code == 200  # from the cache

    assert (
        client.post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=auth).status_code
        == 200
    )

    assert refused(read(token))


@pytest.mark.redis
def test_a_revoked_credentials_token_is_refused_at_once_from_redis(
    client, source_provider, shared_cache
):
    application, _auth, token = issue(client, source_provider)
    assert read(token).status_code == 200

    services.credential_revoke(provider=source_provider, application=application)

    assert refused(read(token))


def test_the_cache_holds_no_password_or_secret_hash(client, source_provider):
    application, _auth, token = issue(client, source_provider)
    assert read(token).status_code == 200

    kept = pickle.dumps(token_cache_get(token_checksum(token)))

    assert application.client_secret.encode() not in kept
    assert source_provider.user.password.encode() not in kept


def _read_from_the_database(token: str):
    """The token as a request reads it from the database, before it keeps it in the cache."""
    tokens = get_access_token_model().objects.select_related("application__user")
    return tokens.get(token_checksum=token_checksum(token))


@pytest.mark.redis
@pytest.mark.parametrize("how", ["credential", "endpoint"])
def test_a_request_that_read_a_token_before_its_revocation_cannot_keep_it_after(
    client, source_provider, shared_cache, django_capture_on_commit_callbacks, how
):
    application, auth, token = issue(client, source_provider)
    # A request reads the token from the database, then the revocation commits (dropping
    # it from the cache at once and after commit), then the request keeps what it read.
    found = _read_from_the_database(token)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "credential":
            services.credential_revoke(provider=source_provider, application=application)
        else:
            revoked = client.post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=auth)
            assert revoked.status_code == 200
    token_cache_set(found)

    assert refused(read(token))
