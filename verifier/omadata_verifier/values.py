"""The shapes of values in bundles and in the operator's answers: sizes and base64 hashes."""

import base64
import binascii
from typing import TypeGuard

HASH_SIZE = 32
# The largest log index or tree size read: the operator counts its log in a signed 64-bit
# integer. Beyond it a number is no size but an attempt on the verifier's memory or time.
MAX_SIZE = 2**63 - 1


def is_int(value: object) -> TypeGuard[int]:
    """An integer, and not a bool (which JSON's true would be in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_size(value: object) -> TypeGuard[int]:
    """A log index or a tree size: an integer from 0 to MAX_SIZE."""
    return is_int(value) and 0 <= value <= MAX_SIZE


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


def shown(value: object) -> str:
    """A value from a bundle or an answer, as a message quotes it: short, whatever it holds."""
    if value is None or isinstance(value, str | int | float):
        text = repr(value)
        return text if len(text) <= 80 else f"{text[:60]}… ({len(text)} characters)"
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"
