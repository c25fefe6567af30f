"""Validated access tokens, kept a few seconds in the shared cache.

Reading a token with its client, the client's owner and the owner's
organisation is a third of an API read's work; services send the same token
for an hour. So a token read from the database is kept in the default cache
(Redis in production, shared by every host; files under var/ otherwise,
shared by the processes of one machine) for OMADATA_TOKEN_CACHE_SECONDS, and
never past its expiry. The key is the token's SHA-256, as the database keeps
it: the cache holds no usable token, and no password's or client secret's
hash either (omadata/oauth.py leaves those out of the read).

Revocation through the operator's own paths (RFC 7009's endpoint, revoking a
credential, taking the auditor role) puts a tombstone in the token's place at
once, and again after commit, for OMADATA_TOKEN_CACHE_SECONDS; a token is kept
only where nothing is (`add`, not `set`). So a request that read the token from
the database just before the revocation committed cannot keep it afterwards.
Anything else that ends a token's use (an owner deactivated, a provider
membership removed, a row deleted by hand) takes effect within
OMADATA_TOKEN_CACHE_SECONDS. Every read still checks expiry and scope, and
an auditor's role is read afresh on every call (ledger/apis.py).

A cache that fails is passed over: the token is read from the database.
"""

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

logger = logging.getLogger(__name__)


def token_checksum(token: str) -> str:
    """The SHA-256 of a token, as django-oauth-toolkit stores and looks it up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _key(checksum: str) -> str:
    return f"oauth2-token:{checksum}"


# What a revoked token's key holds instead of the token, until a reader could no
# longer be about to keep what it read before the revocation.
_REVOKED = "revoked"


def token_cache_get(checksum: str) -> Any:
    """The access token kept under `checksum`, or None."""
    if not settings.OMADATA_TOKEN_CACHE_SECONDS:
        return None
    try:
        kept = cache.get(_key(checksum))
    except Exception:
        logger.warning("access token not read from the cache: the cache failed", exc_info=True)
        return None
    return None if kept == _REVOKED else kept


def token_cache_set(access_token: Any) -> None:
    """Keep a validated token for OMADATA_TOKEN_CACHE_SECONDS, or until it expires if sooner."""
    left = int((access_token.expires - timezone.now()).total_seconds())
    seconds = min(settings.OMADATA_TOKEN_CACHE_SECONDS, left)
    if seconds < 1:
        return
    try:
        # `add`: never over a revoked token's tombstone.
        cache.add(_key(access_token.token_checksum), access_token, seconds)
    except Exception:
        logger.warning("access token not kept in the cache: the cache failed", exc_info=True)


def token_cache_forget(checksums: Iterable[str]) -> None:
    """Put tombstones in these tokens' places now, and again when the revoking transaction commits.

    Again, so that they last OMADATA_TOKEN_CACHE_SECONDS from the commit: a request
    that read a token before the commit cannot keep it meanwhile. If the
    transaction rolls back, the tokens are read from the database for that long.
    """
    if not settings.OMADATA_TOKEN_CACHE_SECONDS:
        return
    keys = [_key(checksum) for checksum in checksums]
    if keys:
        _bury(keys)
        transaction.on_commit(lambda: _bury(keys))


def token_cache_forget_of(*, applications: Any) -> None:
    """Drop the tokens of these applications (a queryset), once the transaction commits."""
    tokens = get_access_token_model().objects.filter(application__in=applications)
    token_cache_forget(tokens.values_list("token_checksum", flat=True))


def _bury(keys: list[str]) -> None:
    try:
        cache.set_many(dict.fromkeys(keys, _REVOKED), settings.OMADATA_TOKEN_CACHE_SECONDS)
    except Exception:
        logger.warning("revoked tokens not dropped from the cache: the cache failed")
