"""Every key that signs is published, even when the first thing it signed was rolled back.

In production the processes never publish a key themselves (the application's
database role may not write signing keys): a command run as the owner role does,
and until it has, nothing is signed and a request that needs a signature gets 503.
"""

import io

import pytest
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

from common.errors import Unavailable
from ledger import jws, keys
from ledger.models import SigningKey
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


class ChangeFailed(RuntimeError):
    pass


def _in_a_failing_transaction(step) -> None:
    try:
        with transaction.atomic():
            step()
            raise ChangeFailed
    except ChangeFailed:
        pass


def _published(client) -> set[str]:
    return {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}


def test_a_key_first_recorded_in_a_rolled_back_transaction_is_recorded_again(client):
    _in_a_failing_transaction(lambda: jws.sign({"n": 1}, typ="test+jwt"))

    token = jws.sign({"n": 2}, typ="test+jwt")

    assert jws.header_of(token)["kid"] in _published(client)
    assert jws.verify(token, typ="test+jwt") == {"n": 2}


def test_a_rotation_rolled_back_with_its_transaction_is_not_remembered(client):
    _in_a_failing_transaction(keys.key_rotate)

    token = jws.sign({"n": 3}, typ="test+jwt")

    assert jws.header_of(token)["kid"] in _published(client)


@pytest.fixture
def production_key(settings, monkeypatch):
    """Production, with a key in OMADATA_SIGNING_KEY that nobody has published yet."""
    settings.PRODUCTION = True
    key = keys.new_key()
    monkeypatch.setenv(
        "OMADATA_SIGNING_KEY", key.export_to_pem(private_key=True, password=None).decode()
    )
    return key


def test_in_production_a_key_that_is_not_published_signs_nothing(production_key):
    with pytest.raises(Unavailable) as raised:
        jws.sign({"n": 1}, typ="test+jwt")

    assert raised.value.code == "signing_key_unpublished"
    assert not SigningKey.objects.exists()


def test_in_production_a_key_published_by_the_command_signs(production_key, client):
    call_command("signing_key_publish", stdout=io.StringIO())

    token = jws.sign({"n": 1}, typ="test+jwt")

    assert jws.header_of(token)["kid"] == production_key["kid"]
    assert production_key["kid"] in _published(client)


def test_publishing_a_new_key_retires_the_one_before(settings, monkeypatch):
    old = keys.active_key()["kid"]
    new = keys.new_key()
    monkeypatch.setenv(
        "OMADATA_SIGNING_KEY", new.export_to_pem(private_key=True, password=None).decode()
    )

    call_command("signing_key_publish", stdout=io.StringIO())

    assert SigningKey.objects.get(kid=old).retired_at is not None
    assert SigningKey.objects.get(kid=new["kid"]).retired_at is None


def test_in_production_no_key_at_all_signs_nothing(settings):
    settings.PRODUCTION = True

    with pytest.raises(Unavailable):
        jws.sign({"n": 1}, typ="test+jwt")

    assert not (keys.keys_dir() / "active").exists()  # nor did it make one by itself


def test_in_production_a_checkpoint_asked_for_without_a_published_key_is_503(production_key):
    auditor_api = APIClient()
    token = factories.auditor_token(factories.make_auditor())
    auditor_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = auditor_api.post("/api/v1/audit/checkpoints")

    assert response.status_code == 503
    assert response.json()["code"] == "signing_key_unpublished"
