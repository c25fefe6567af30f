"""The operator's ES256 signing keys: where the private keys come from.

Development: a directory (`OMADATA_KEYS_DIR`, default `var/keys/`) of PEM
files named `<kid>.pem` (0600), with the active kid in `active`; the first use
generates one. Production: the same directory on a mounted secret volume, or
the active key's PEM in `OMADATA_SIGNING_KEY` (an environment secret).

Every key that signs is recorded, public half only, as a `SigningKey` row, and
stays published after rotation so that old receipts keep verifying.

Only the database's owner role may write those rows (on PostgreSQL a trigger
refuses anyone else, see common/evidence.py), so in production the processes,
which run as the application role, never record a key: `signing_key_rotate` or
`signing_key_publish`, run as the owner, does. A production process whose key
is not published refuses to sign, with `Unavailable`, rather than sign with a
key that nobody can verify.
"""

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from jwcrypto import jwk

from common.errors import Unavailable
from ledger.models import SigningKey

logger = logging.getLogger(__name__)


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
    """The private key that signs now, published; generated on first use in development."""
    key = _active_private_key()
    if key is None:
        if settings.PRODUCTION:
            logger.error(
                "No signing key: set OMADATA_SIGNING_KEY and run `manage.py signing_key_publish`, "
                "or run `manage.py signing_key_rotate` with OMADATA_KEYS_DIR on persistent "
                "storage; both as the database owner role."
            )
            raise _unpublished()
        return key_rotate()
    return _record(key)


def signing_ready() -> bool:
    """Whether this process can sign now without writing anything: its key is published.

    In development a missing key is made on first use, so it can always sign.
    """
    if not settings.PRODUCTION:
        return True
    key = _active_private_key()
    return key is not None and SigningKey.objects.filter(kid=key["kid"]).exists()


def _active_private_key() -> jwk.JWK | None:
    secret = os.environ.get("OMADATA_SIGNING_KEY")
    if secret:
        return _load_pem(secret.encode())
    marker = keys_dir() / "active"
    if not marker.exists():
        return None
    kid = marker.read_text().strip()
    return _load_pem((keys_dir() / f"{kid}.pem").read_bytes())


def _unpublished() -> Unavailable:
    return Unavailable(
        code="signing_key_unpublished",
        message=_("The operator cannot sign right now: its signing key is not published yet."),
    )


def _record(key: jwk.JWK) -> jwk.JWK:
    """Make sure the key's public half is published before anything it signs is.

    In production it must be published already: the application role may not write
    signing keys, and a key that signed without being published could not be verified.
    """
    kid = key["kid"]
    if kid in _recorded:
        return key
    if settings.PRODUCTION:
        if not SigningKey.objects.filter(kid=kid).exists():
            logger.error(
                "The signing key %s is not published: run `manage.py signing_key_publish` "
                "as the database owner role.",
                kid,
            )
            raise _unpublished()
        _recorded.add(kid)
        return key
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
    _published.clear()


def key_rotate() -> jwk.JWK:
    """Make a new active key in the keys directory; the old one retires but stays published.

    Run as the database owner role: it records the new key.
    """
    key = new_key()
    _write_key(key)
    _publish(key)
    _set_active(key["kid"])
    return key


def key_publish() -> tuple[jwk.JWK, bool]:
    """Record the active key's public half, so the JWKS publishes it; the others retire.

    Run as the database owner role, before the processes sign with a new
    `OMADATA_SIGNING_KEY`. Returns the key and whether it was new to the database.
    """
    key = _active_private_key()
    if key is None:
        raise KeyConfigError(
            "No active signing key: set OMADATA_SIGNING_KEY, or make one with "
            "`manage.py signing_key_rotate`."
        )
    if SigningKey.objects.filter(kid=key["kid"]).exists():
        return key, False
    _publish(key)
    return key, True


def _publish(key: jwk.JWK) -> None:
    with transaction.atomic():
        SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        SigningKey.objects.create(kid=key["kid"], public_jwk=key.export_public(as_dict=True))
        _remember_after_commit(key["kid"])


def published_keys() -> dict[str, jwk.JWK]:
    """Every key the operator has signed with, by kid: the only keys verification trusts."""
    return {row.kid: jwk.JWK(**row.public_jwk) for row in SigningKey.objects.all()}


def published_key(kid: str) -> jwk.JWK | None:
    """The published key `kid`, read once per process: keys are only ever added (a retired
    key still verifies what it signed), so a kid this process has not seen yet, and only
    such a kid, makes it read the key set again."""
    key = _published.get(kid)
    if key is None:
        _published.update(published_keys())
        key = _published.get(kid)
    return key


# The published keys this process has read; tests that roll the database back clear it.
_published: dict[str, jwk.JWK] = {}


def jwks() -> dict[str, list[dict[str, Any]]]:
    return {
        "keys": [dict(row.public_jwk, use="sig", alg="ES256") for row in SigningKey.objects.all()]
    }
