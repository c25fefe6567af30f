"""The operator's short-lived bearer tokens for a transfer's source and sink.

One token per request: the peer checks `aud` (its own service id), `sub` (the
resident's pairwise id at that peer), and that the signature verifies with the
operator's JWKS. The data types are the transfer part's: the consent's for
that source, or the part of them the sink asked for, never more than the consent
covers. `part` and `parts` number the part in its run; a sink's token also
names the source the part came from (`source`).
"""

import uuid

from django.conf import settings
from django.utils import timezone

from ledger import jws
from registry.models import Service

TRANSFER_TYP = "transfer+jwt"


def transfer_token(
    *,
    service: Service,
    subject: str,
    consent_id: str,
    transfer_id: str,
    data_types: list[str],
    part: int,
    parts: int,
    source: dict | None = None,
) -> str:
    """A compact JWS for one request to `service` about one part of a transfer."""
    now = int(timezone.now().timestamp())
    claims = {
        "iss": settings.BASE_URL,
        "aud": str(service.id),
        "sub": subject,
        "consent_id": consent_id,
        "transfer_id": transfer_id,
        "data_types": data_types,
        "part": part,
        "parts": parts,
        **({"source": source} if source is not None else {}),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + settings.OMADATA_TRANSFER_TOKEN_SECONDS,
    }
    return jws.sign(claims, typ=TRANSFER_TYP)
