"""The operator's JWS: what verifies, and every way a forged token is refused."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from jwcrypto import jwk

from ledger import jws, keys

pytestmark = pytest.mark.django_db
TYP = "consent-receipt+jwt"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, key: jwk.JWK) -> str:
    """Sign with any header, as an attacker with their own key would."""
    from jwcrypto import jws as raw

    token = raw.JWS(json.dumps(payload).encode())
    token.add_signature(key, alg=header.get("alg", "ES256"), protected=header)
    return token.serialize(compact=True)


def test_signed_token_verifies_and_returns_payload():
    token = jws.sign({"hello": "maailma"}, typ=TYP)

    assert jws.verify(token, typ=TYP) == {"hello": "maailma"}


def test_header_names_alg_kid_and_typ():
    token = jws.sign({}, typ=TYP)

    assert jws.header_of(token) == {"alg": "ES256", "kid": keys.active_key()["kid"], "typ": TYP}


def test_second_library_verifies_with_published_jwks(client):
    token = jws.sign({"n": 1}, typ=TYP)
    published = client.get("/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(published)[kid]

    assert jwt.api_jws.decode(token, key.key, algorithms=["ES256"]) == b'{"n":1}'


def test_tampered_payload_is_refused():
    header, _payload, signature = jws.sign({"status": "withdrawn"}, typ=TYP).split(".")
    forged_payload = b64(json.dumps({"status": "active"}).encode())
    tampered = f"{header}.{forged_payload}.{signature}"

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(tampered, typ=TYP)
    assert raised.value.code == "bad_signature"


def test_token_resigned_with_another_key_under_our_kid_is_refused():
    kid = keys.active_key()["kid"]
    attacker = jwk.JWK.generate(kty="EC", crv="P-256")

    token = forge({"alg": "ES256", "kid": kid, "typ": TYP}, {"a": 1}, attacker)

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)
    assert raised.value.code == "bad_signature"


def test_foreign_kid_is_refused():
    attacker = jwk.JWK.generate(kty="EC", crv="P-256", kid="attacker")

    token = forge({"alg": "ES256", "kid": "attacker", "typ": TYP}, {"a": 1}, attacker)

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)
    assert raised.value.code == "unknown_key"


def test_alg_none_is_refused():
    kid = keys.active_key()["kid"]
    header = b64(json.dumps({"alg": "none", "kid": kid, "typ": TYP}).encode())

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(f"{header}.{b64(b'{}')}.", typ=TYP)
    assert raised.value.code == "bad_alg"


def test_hs256_signed_with_the_public_key_is_refused():
    key = keys.active_key()
    public_pem = key.export_to_pem()
    signing_input = (
        b64(json.dumps({"alg": "HS256", "kid": key["kid"], "typ": TYP}).encode()) + "." + b64(b"{}")
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(f"{signing_input}.{b64(mac)}", typ=TYP)
    assert raised.value.code == "bad_alg"


def test_wrong_typ_is_refused():
    token = jws.sign({}, typ="link+jwt")

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)
    assert raised.value.code == "bad_typ"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_key_locating_headers_are_refused(name):
    key = keys.active_key()
    value = key.export_public(as_dict=True) if name == "jwk" else "https://evil.example/keys"
    header = {"alg": "ES256", "kid": key["kid"], "typ": TYP, name: value}

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(forge(header, {}, key), typ=TYP)
    assert raised.value.code == "forbidden_header"


def test_unknown_crit_extension_is_refused():
    key = keys.active_key()
    pem = key.export_to_pem(private_key=True, password=None)
    header = {"kid": key["kid"], "typ": TYP, "crit": ["exp"], "exp": 1}
    token = jwt.api_jws.encode(b"{}", pem, algorithm="ES256", headers=header)

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)
    assert raised.value.code == "unknown_crit"


def test_oversized_token_is_refused_before_parsing():
    with pytest.raises(jws.JWSError) as raised:
        jws.verify("a" * (jws.MAX_TOKEN_BYTES + 1), typ=TYP)
    assert raised.value.code == "too_large"


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.sig", b64(b"[1]") + ".e30.c2ln", b64(b"not json") + ".e30.x"],
)
def test_malformed_tokens_are_refused(token):
    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)
    assert raised.value.code == "malformed"


def test_rotated_key_leaves_old_tokens_verifiable(client):
    old = jws.sign({"n": "old"}, typ=TYP)

    keys.key_rotate()
    new = jws.sign({"n": "new"}, typ=TYP)

    assert jws.header_of(old)["kid"] != jws.header_of(new)["kid"]
    published = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    for token in (old, new):
        key = published[jwt.get_unverified_header(token)["kid"]]
        assert jwt.api_jws.decode(token, key.key, algorithms=["ES256"])
    assert jws.verify(old, typ=TYP) == {"n": "old"}


def test_key_file_is_private_to_the_owner(settings):
    kid = keys.active_key()["kid"]

    assert (settings.OMADATA_KEYS_DIR / f"{kid}.pem").stat().st_mode & 0o777 == 0o600


def test_key_from_environment_signs_and_is_published(monkeypatch, client):
    pem = jwk.JWK.generate(kty="EC", crv="P-256").export_to_pem(private_key=True, password=None)
    monkeypatch.setenv("OMADATA_SIGNING_KEY", pem.decode())

    token = jws.sign({}, typ=TYP)

    kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    assert jws.header_of(token)["kid"] in kids


def test_an_rsa_key_in_the_environment_is_refused(monkeypatch):
    pem = jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None)
    monkeypatch.setenv("OMADATA_SIGNING_KEY", pem.decode())

    with pytest.raises(keys.KeyConfigError):
        jws.sign({}, typ=TYP)


def test_rotate_command_names_the_new_key(capsys):
    from django.core.management import call_command

    first = keys.active_key()["kid"]
    call_command("signing_key_rotate")

    assert keys.active_key()["kid"] != first
    assert keys.active_key()["kid"] in capsys.readouterr().out


def deep(depth: int, *, objects: bool) -> bytes:
    if objects:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
def test_header_nested_2000_deep_is_invalid_json(objects):
    token = f"{b64(deep(2_000, objects=objects))}.{b64(b'{}')}.{b64(b'sig')}"

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token, typ=TYP)

    assert raised.value.code == "invalid_json"


@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
def test_header_nested_100000_deep_is_refused_before_parsing(objects):
    token = f"{b64(deep(100_000, objects=objects))}.{b64(b'{}')}.{b64(b'sig')}"

    with pytest.raises(jws.JWSError) as raised:
        jws.header_of(token)

    assert raised.value.code == "too_large"


@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
def test_signed_payload_nested_2000_deep_is_invalid_json(objects):
    key = keys.active_key()
    from jwcrypto import jws as raw

    token = raw.JWS(deep(2_000, objects=objects))
    token.add_signature(key, alg="ES256", protected={"alg": "ES256", "kid": key["kid"], "typ": TYP})

    with pytest.raises(jws.JWSError) as raised:
        jws.verify(token.serialize(compact=True), typ=TYP)

    assert raised.value.code == "invalid_json"
