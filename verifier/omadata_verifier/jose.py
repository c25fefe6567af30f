"""ES256 compact JWS, verified with `cryptography` alone.

The operator signs receipts and checkpoints with ES256 and a `kid`. Here the
algorithm and `typ` are pinned, the key is looked up by `kid` only in the key set
the caller trusts, and headers that point at other keys (`jku`, `x5u`, `jwk`,
`x5c`) or ask for extensions (`crit`) are refused, never followed.
"""

import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from omadata_verifier.values import shown

ALG = "ES256"
RECEIPT_TYP = "consent-receipt+jwt"
CHECKPOINT_TYP = "log-checkpoint+jwt"
EXPORT_TYP = "resident-export+jwt"
_FOREIGN_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_ECDSA = ec.ECDSA(hashes.SHA256())


class Invalid(ValueError):
    """A token or key that does not verify; the message says why."""


@dataclass(frozen=True)
class Key:
    """A public key of the operator, with the times it was in use (Unix seconds), if known."""

    kid: str
    public: ec.EllipticCurvePublicKey
    created_at: int | None = None
    retired_at: int | None = None


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding, as JOSE writes it."""
    # The standard alphabet's two letters and padding are not base64url; the rest of the
    # check is binascii's strict mode, after the two alphabets' letters are swapped.
    if "+" in text or "/" in text or "=" in text or len(text) % 4 == 1:
        raise Invalid("not base64url")
    try:
        padded = (text + "=" * (-len(text) % 4)).encode("ascii").translate(_TO_STANDARD)
        return binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise Invalid("not base64url") from None


def public_key(jwk: object) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a JWK; anything else is refused."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise Invalid("not an EC P-256 public key")
    x, y = jwk.get("x"), jwk.get("y")
    if not isinstance(x, str) or not isinstance(y, str):
        raise Invalid("the key has no x or y")
    xb, yb = b64url_decode(x), b64url_decode(y)
    if len(xb) != 32 or len(yb) != 32:
        raise Invalid("a P-256 coordinate has 32 bytes")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + xb + yb)
    except ValueError:
        raise Invalid("the point is not on the curve") from None


def sha256_hex(token: str) -> str:
    """How a receipt names the one before it: SHA-256 of the compact JWS, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def verify(token: object, *, typ: str, keys: Mapping[str, Key]) -> tuple[Key, dict[str, Any]]:
    """The key that signed `token` and its payload; raise Invalid if it does not verify."""
    if not isinstance(token, str) or not token.isascii():
        raise Invalid("the token is not an ASCII string")
    parts = token.split(".")
    if len(parts) != 3:
        raise Invalid("a compact JWS has three parts")
    header = _header(parts[0])
    if header.get("alg") != ALG:
        raise Invalid(f"alg is {shown(header.get('alg'))}, not {ALG}")
    if header.get("typ") != typ:
        raise Invalid(f"typ is {shown(header.get('typ'))}, not {typ!r}")
    foreign = [name for name in _FOREIGN_KEY_HEADERS if name in header]
    if foreign:
        raise Invalid(f"key-locating headers are refused: {', '.join(foreign)}")
    if "crit" in header:
        raise Invalid("no critical header extension is understood")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Invalid(f"its kid {shown(kid)} is not in the key history")
    signature = b64url_decode(parts[2])
    if len(signature) != 64:
        raise Invalid("an ES256 signature has 64 bytes")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        key.public.verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), _ECDSA)
    except InvalidSignature:
        raise Invalid(f"the signature does not verify with key {kid}") from None
    return key, _json(parts[1], "payload")


@lru_cache(maxsize=64)
def _header(part: str) -> dict[str, Any]:
    """A protected header: the same few (one per key) head every token of an operator."""
    return _json(part, "header")


def _json(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))
    except (Invalid, ValueError, RecursionError):
        raise Invalid(f"the {name} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise Invalid(f"the {name} is not a JSON object")
    return value
