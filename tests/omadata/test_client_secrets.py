"""Client secrets: stored with a fast hasher fit for random secrets, older ones upgraded on use."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hasher, identify_hasher
from oauth2_provider.models import get_application_model

from omadata import settings as project
from omadata.hashers import ClientSecretHasher
from registry import services
from tests.factories import FAST_HASHERS, basic_auth

pytestmark = pytest.mark.django_db
Application = get_application_model()


def token(client, application, secret: str):
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:read"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )


def stored(application) -> str:
    return Application.objects.values_list("client_secret", flat=True).get(pk=application.pk)


def stored_with_pbkdf2(provider, settings) -> tuple[object, str, str]:
    """A credential whose secret is stored as it was before: PBKDF2 (few rounds, for speed)."""
    settings.PASSWORD_HASHERS = [*FAST_HASHERS, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    application, secret = services.credential_create(provider=provider, name="old")
    old = PBKDF2PasswordHasher().encode(secret, "somesalt1234", iterations=1000)
    Application.objects.filter(pk=application.pk).update(client_secret=old)
    return application, secret, old


def test_a_new_secret_is_stored_hashed_with_the_secret_hasher(source_provider):
    application, secret = services.credential_create(provider=source_provider, name="new")

    value = stored(application)

    assert secret not in value
    assert isinstance(identify_hasher(value), ClientSecretHasher)
    assert ClientSecretHasher().verify(secret, value)


def test_a_secret_stored_with_pbkdf2_gets_a_token_and_is_stored_again(
    client, source_provider, settings
):
    application, secret, old = stored_with_pbkdf2(source_provider, settings)

    answer = token(client, application, secret)

    assert answer.status_code == 200
    upgraded = stored(application)
    assert upgraded != old
    assert secret not in upgraded
    assert isinstance(identify_hasher(upgraded), ClientSecretHasher)
    assert token(client, application, secret).status_code == 200


def test_a_wrong_secret_is_refused_and_changes_nothing(client, source_provider, settings):
    application, secret, old = stored_with_pbkdf2(source_provider, settings)

    answer = token(client, application, secret[:-1] + ("A" if secret[-1] != "A" else "B"))

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert stored(application) == old


def test_a_wrong_secret_is_refused_by_the_secret_hasher(client, source_provider):
    application, _secret = services.credential_create(provider=source_provider, name="new")

    answer = token(client, application, "not-the-secret")

    assert answer.status_code == 401


def test_the_same_secret_is_stored_differently_each_time():
    hasher = ClientSecretHasher()

    first, second = (hasher.encode("s3cret", hasher.salt()) for _ in range(2))

    assert first != second
    assert hasher.verify("s3cret", first)
    assert hasher.verify("s3cret", second)
    assert not hasher.verify("s3cre", first)


def test_passwords_keep_djangos_slow_default_hasher(settings):
    settings.PASSWORD_HASHERS = project.PASSWORD_HASHERS

    assert get_hasher("default").algorithm == "pbkdf2_sha256"
    assert project.OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"] == ClientSecretHasher.algorithm


def test_the_token_endpoint_reads_the_client_with_its_owner_at_once(
    client, source_provider, django_assert_max_num_queries
):
    """The client with its owner and provider; the auditors group; the token written
    (in a savepoint here) and read back for DOT's signal."""
    application, secret = services.credential_create(provider=source_provider, name="new")

    with django_assert_max_num_queries(6):
        answer = token(client, application, secret)

    assert answer.status_code == 200
