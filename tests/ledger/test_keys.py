"""Every key that signs is published, even when the first thing it signed was rolled back."""

import pytest
from django.db import transaction

from ledger import jws, keys

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
