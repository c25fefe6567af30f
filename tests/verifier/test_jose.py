"""The verifier's ES256 check, with `cryptography` alone, of tokens the operator signs."""

import base64
import json

import pytest
from omadata_verifier import jose

from ledger import jws, keys

TYP = jose.RECEIPT_TYP


@pytest.fixture
def key():
    return keys.new_key()


@pytest.fixture
def trusted(key):
    public = jose.public_key(key.export_public(as_dict=True))
    return {key["kid"]: jose.Key(kid=key["kid"], public=public)}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _reheader(token: str, **changes) -> str:
    header, payload, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(header + "=="))
    return f"{_b64({**fields, **changes})}.{payload}.{signature}"


def test_a_token_the_operator_signed_verifies(key, trusted):
    token = jws.sign({"omadata": {"event": "consent.granted"}}, typ=TYP, key=key)

    signer, payload = jose.verify(token, typ=TYP, keys=trusted)

    assert signer.kid == key["kid"]
    assert payload == {"omadata": {"event": "consent.granted"}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"alg": "none"}, "alg is 'none', not ES256"),
        ({"alg": "HS256"}, "alg is 'HS256', not ES256"),
        ({"typ": "JWT"}, "typ is 'JWT'"),
        ({"jku": "https://evil.example/jwks"}, "key-locating headers are refused: jku"),
        ({"jwk": {"kty": "EC"}}, "key-locating headers are refused: jwk"),
        ({"crit": ["exp"]}, "no critical header extension"),
        ({"kid": "someone-else"}, "kid 'someone-else' is not in the key history"),
    ],
)
def test_a_header_outside_the_pinned_ones_is_refused(key, trusted, changes, message):
    token = _reheader(jws.sign({"a": 1}, typ=TYP, key=key), **changes)

    with pytest.raises(jose.Invalid, match=message):
        jose.verify(token, typ=TYP, keys=trusted)


def test_a_changed_payload_fails_the_signature(key, trusted):
    header, _payload, signature = jws.sign({"a": 1}, typ=TYP, key=key).split(".")

    with pytest.raises(jose.Invalid, match="the signature does not verify"):
        jose.verify(f"{header}.{_b64({'a': 2})}.{signature}", typ=TYP, keys=trusted)


def test_a_token_signed_by_another_key_with_the_same_kid_fails(key, trusted):
    other = keys.new_key()
    forged = jws.sign({"a": 1}, typ=TYP, key=other)

    with pytest.raises(jose.Invalid, match="the signature does not verify"):
        jose.verify(_reheader(forged, kid=key["kid"]), typ=TYP, keys=trusted)


@pytest.mark.parametrize(
    "token", ["", "a.b", "a.b.c.d", "é.é.é", "e30.e30.e30=", "W10.e30.AAAA", 42, None]
)
def test_a_malformed_token_is_refused_by_name(trusted, token):
    with pytest.raises(jose.Invalid):
        jose.verify(token, typ=TYP, keys=trusted)


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},  # not on the curve
        "not a key",
    ],
)
def test_a_key_that_is_no_p256_public_key_is_refused(jwk):
    with pytest.raises(jose.Invalid):
        jose.public_key(jwk)
