"""How OAuth2 client secrets are stored: one salted HMAC-SHA256, not a password's slow hash.

A client secret is 256 random bits (`registry.services.credential_create`). A
password is slow to hash (PBKDF2, a million rounds, about 0.3 s of CPU) so that
a stolen hash costs a guesser that much per word of a dictionary; a 256-bit
random secret is in no dictionary, and one round of a keyed hash leaves a
stolen value just as hard to reverse, so the million rounds protected nothing
and made every token request that slow. Users' passwords keep Django's slow
default: this hasher is last in PASSWORD_HASHERS and only django-oauth-toolkit's
CLIENT_SECRET_HASHER names it.
"""

import hashlib
import hmac

from django.contrib.auth.hashers import BasePasswordHasher
from django.utils.crypto import constant_time_compare


class ClientSecretHasher(BasePasswordHasher):
    """`sha256_secret$<salt>$<hex HMAC-SHA256 of the secret keyed with the salt>`."""

    algorithm = "sha256_secret"

    def encode(self, password: str, salt: str) -> str:
        if not salt or "$" in salt:
            raise ValueError("a salt is a string without '$'")
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        if algorithm != self.algorithm:
            raise ValueError(f"not a {self.algorithm} value")
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        return constant_time_compare(encoded, self.encode(password, self.decode(encoded)["salt"]))

    def harden_runtime(self, password: str, encoded: str) -> None:
        """Nothing to even out: every value of this hasher takes the same single round."""
