"""The operator's ES256 signing keys: where the private keys come from.

Development: a directory (`OMADATA_KEYS_DIR`, default `var/keys/`) of PEM
files named `<kid>.pem` (0600), with the active kid in `active`; the first use
generates one. Production: the same directory on a mounted secret volume, or
the active key's PEM in `OMADATA_SIGNING_KEY` (an environment secret).

Every key that signs is recorded, public half only, as a `SigningKey` row, and
stays published after rotation so that old receipts keep verifying.
"""

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwk

from ledger.models import SigningKey


class KeyConfigError(RuntimeError):
    pass


def keys_dir() -> Path:
    return Path(settings.OMADATA_KEYS_DIR)


def new_key() -> jwk.JWK:
    return _with_kid(jwk.JWK.generate(kty="EC", crv="P-256"))


def _with_kid(key: jwk.JWK) -> jwk.JWK:
    """Name a key by its RFC 7638 thumbprint, so the same key always has the same kid."""
    data = key.export(private_key=key.has_private, as_dict=True)
    data["kid"] = key.thumbprint()
    return jwk.JWK(**data)


@lru_cache(maxsize=8)
def _load_pem(pem: bytes) -> jwk.JWK:
    key = _with_kid(jwk.JWK.from_pem(pem))
    if key.get("kty") != "EC" or key.get("crv") != "P-256" or not key.has_private:
        raise KeyConfigError("A signing key must be a private EC P-256 key (ES256).")
    return key


def _write_key(key: jwk.JWK) -> Path:
    folder = keys_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{key['kid']}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_to_pem(private_key=True, password=None))
    return path


def _set_active(kid: str) -> None:
    tmp = keys_dir() / f".active.{os.getpid()}"
    tmp.write_text(kid)
    tmp.replace(keys_dir() / "active")  # atomic: readers see the old kid or the new one


def active_key() -> jwk.JWK:
    """The private key that signs now; generated on first use in development."""
    secret = os.environ.get("OMADATA_SIGNING_KEY")
    if secret:
        return _record(_load_pem(secret.encode()))
    marker = keys_dir() / "active"
    if not marker.exists():
        if settings.PRODUCTION:
            raise KeyConfigError(
                "No signing key: set OMADATA_SIGNING_KEY, or run `manage.py signing_key_rotate` "
                "with OMADATA_KEYS_DIR on persistent storage."
            )
        return key_rotate()
    kid = marker.read_text().strip()
    return _record(_load_pem((keys_dir() / f"{kid}.pem").read_bytes()))


def _record(key: jwk.JWK) -> jwk.JWK:
    """Make sure the key's public half is published before anything it signs is."""
    kid = key["kid"]
    if kid not in _recorded:
        SigningKey.objects.get_or_create(
            kid=kid, defaults={"public_jwk": key.export_public(as_dict=True)}
        )
        _remember_after_commit(kid)
    return key


def _remember_after_commit(kid: str) -> None:
    # Only once the row is committed: if the transaction that recorded it rolls
    # back, the next signature must record it again, or it would go unpublished.
    transaction.on_commit(lambda: _recorded.add(kid))


# Kids this process has seen recorded; tests that roll the database back clear it.
_recorded: set[str] = set()


def forget_recorded() -> None:
    _recorded.clear()


def key_rotate() -> jwk.JWK:
    """Make a new active key in the keys directory; the old one retires but stays published."""
    key = new_key()
    _write_key(key)
    with transaction.atomic():
        SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        SigningKey.objects.create(kid=key["kid"], public_jwk=key.export_public(as_dict=True))
        _remember_after_commit(key["kid"])
    _set_active(key["kid"])
    return key


def published_keys() -> dict[str, jwk.JWK]:
    """Every key the operator has signed with, by kid: the only keys verification trusts."""
    return {row.kid: jwk.JWK(**row.public_jwk) for row in SigningKey.objects.all()}


def jwks() -> dict[str, list[dict[str, Any]]]:
    return {
        "keys": [dict(row.public_jwk, use="sig", alg="ES256") for row in SigningKey.objects.all()]
    }
