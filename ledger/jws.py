"""Signing and verifying the operator's JWS: receipts, checkpoints, tokens, notifications.

The one place that touches JOSE. The algorithm is pinned to ES256, the `typ` is
checked, and keys are looked up by `kid` only in the operator's own key set:
headers that point elsewhere (`jku`, `x5u`, `jwk`, `x5c`) and `crit`
extensions are refused, never followed.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk, jws

from common import jsonlimits
from ledger import keys

ALG = "ES256"
MAX_TOKEN_BYTES = 64 * 1024
_FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256")


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class JWSError(Exception):
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def canonical_json(value: object) -> bytes:
    """The JSON form that is signed and hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(payload: dict[str, Any], *, typ: str, key: jwk.JWK | None = None) -> str:
    """Sign `payload` with the active key (or `key`); return compact serialization."""
    key = key or keys.active_key()
    token = jws.JWS(canonical_json(payload))
    token.add_signature(key, alg=ALG, protected={"alg": ALG, "kid": key["kid"], "typ": typ})
    return token.serialize(compact=True)


def _b64decode(part: str) -> bytes:
    if not part or any(c not in _B64URL for c in part):
        raise JWSError("malformed", "The token is not base64url.")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise JWSError("malformed", "The token is not base64url.") from None


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json(data: bytes, *, part: str) -> Any:
    """A part of a token parsed as JSON within common.jsonlimits' bounds.

    JSON that is no JSON is `malformed`; JSON past the bounds (nested too deep,
    say) is `invalid_json`.
    """
    try:
        return jsonlimits.loads(data, max_bytes=MAX_TOKEN_BYTES)
    except jsonlimits.JSONRefused as refused:
        if refused.code == "malformed_json":
            raise JWSError("malformed", f"The {part} is not JSON.") from None
        raise JWSError(
            "invalid_json",
            f"The {part} is JSON past the operator's bounds: nested deeper than "
            f"{jsonlimits.MAX_DEPTH} levels, or holding a value it does not take.",
        ) from None


def header_of(token: object) -> dict[str, Any]:
    """The protected header, parsed and checked for shape only (not trusted yet).

    `token` is whatever a caller was sent: anything but a str is refused here.
    """
    if not isinstance(token, str) or len(token.encode()) > MAX_TOKEN_BYTES:
        raise JWSError("too_large", f"A token is at most {MAX_TOKEN_BYTES} bytes.")
    parts = token.split(".")
    if len(parts) != 3:
        raise JWSError("malformed", "A compact JWS has three parts.")
    header = _json(_b64decode(parts[0]), part="header")
    if not isinstance(header, dict):
        raise JWSError("malformed", "The header is not a JSON object.")
    return header


def payload_of(token: object) -> dict[str, Any]:
    """The payload, parsed and checked for shape only: for showing a token, never for trusting it.

    An auditor looks at what a receipt says whether or not it verifies; what it
    proves comes from `verify` alone.
    """
    header_of(token)  # refuses anything but a str of three parts, within the size bound
    payload = _json(_b64decode(str(token).split(".")[1]), part="payload")
    if not isinstance(payload, dict):
        raise JWSError("malformed", "The payload is not a JSON object.")
    return payload


def verify(token: str, *, typ: str, trusted: dict[str, jwk.JWK] | None = None) -> dict[str, Any]:
    """Verify a token the operator signed; return its payload. Raise JWSError otherwise.

    `trusted` maps kid to public key; by default, every key the operator publishes.
    """
    header = header_of(token)
    if header.get("alg") != ALG:
        raise JWSError("bad_alg", f"Only {ALG} is accepted, not {header.get('alg')!r}.")
    if header.get("typ") != typ:
        raise JWSError("bad_typ", f"Expected typ {typ!r}, not {header.get('typ')!r}.")
    foreign = [name for name in _FOREIGN_KEY_HEADERS if name in header]
    if foreign:
        raise JWSError("forbidden_header", f"Key-locating headers are refused: {foreign}.")
    if "crit" in header:
        raise JWSError("unknown_crit", "No critical header extension is understood.")
    kid = header.get("kid")
    if not isinstance(kid, str):
        key = None
    elif trusted is not None:
        key = trusted.get(kid)
    else:
        key = keys.published_key(kid)
    if key is None:
        raise JWSError("unknown_key", "The token's kid is not one of the operator's keys.")
    parsed = jws.JWS()
    try:
        parsed.deserialize(token)
        parsed.verify(key, alg=ALG)
    except jws.InvalidJWSSignature:
        raise JWSError("bad_signature", "The signature does not verify.") from None
    except (jws.InvalidJWSObject, ValueError, TypeError):
        raise JWSError("malformed", "The token is not a valid JWS.") from None
    payload = _json(parsed.payload, part="payload")
    if not isinstance(payload, dict):
        raise JWSError("malformed", "The payload is not a JSON object.")
    return payload
