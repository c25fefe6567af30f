"""The shapes of values in bundles and in the operator's answers: sizes and base64 hashes."""

import base64
import binascii
from typing import TypeGuard

HASH_SIZE = 32


def is_int(value: object) -> TypeGuard[int]:
    """An integer, and not a bool (which JSON's true would be in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def b64_hash(value: object) -> bytes:
    """A base64 SHA-256 hash, as bundles, checkpoints and proofs write them."""
    if not isinstance(value, str):
        raise ValueError("a hash is a base64 string")
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a hash is a base64 string") from None
    if len(digest) != HASH_SIZE:
        raise ValueError(f"a hash has {HASH_SIZE} bytes, not {len(digest)}")
    return digest


def b64_hashes(values: object) -> list[bytes]:
    """A proof: a list of base64 hashes."""
    if not isinstance(values, list):
        raise ValueError("a proof is a list of base64 hashes")
    return [b64_hash(value) for value in values]
