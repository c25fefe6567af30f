"""The resident's export: one signed JSON file with everything the operator holds about them.

The file is `{"export": {...}, "signature": "<compact JWS>"}`. The JWS (typ
`resident-export+jwt`) signs the SHA-256 of the `export` object's canonical JSON
(ledger.jws.canonical_json: sorted keys, no spaces, UTF-8), so the file is streamed
as it is made and hashed on the way: the `export` object is written canonically.
The format is in docs/auditors.md ("The resident's export"); `omadata-verify
export FILE` checks one, and another operator checks it before importing it.
"""

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from consent.models import Consent, ConsentSource, Receipt, ServiceLink, sources_with_services
from ledger import jws, merkle
from ledger.bundles import b64, b64_all, iso, key_history
from ledger.checkpoints import checkpoint_sign
from ledger.log import log_proof_store
from ledger.models import LogEntry
from registry.models import Service
from relay.models import Transfer

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FORMAT = "omadata-resident-export"
VERSION = 1
EXPORT_TYP = "resident-export+jwt"
# Rows read from the database at a time while the file streams.
CHUNK = 2000


def account_id(resident: "User") -> str:
    """The resident's pseudonymous id in exports: stable at this operator, meaningless elsewhere."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"export-account:{resident.pk}".encode(), hashlib.sha256).hexdigest()[:32]


def export_stream(*, resident: "User", code: str = "") -> Iterator[bytes]:
    """The resident's export file, in pieces; `code` is the one the importing operator showed
    the resident (see docs/residents.md), or "" for a plain download.

    Reads a bounded number of queries whatever the resident's counts: the receipts and
    the transfers stream from one query each.
    """
    checkpoint = checkpoint_sign()  # integrates the queue first: every receipt is covered
    digest = hashlib.sha256()
    created_at = iso(timezone.now())
    yield b'{"export":'
    for piece in _members(resident=resident, code=code, checkpoint=checkpoint, at=created_at):
        digest.update(piece)
        yield piece
    signature = jws.sign(
        {
            "format": FORMAT,
            "version": VERSION,
            "operator": settings.BASE_URL,
            "account": account_id(resident),
            "created_at": created_at,
            "sha256": digest.hexdigest(),
        },
        typ=EXPORT_TYP,
    )
    yield b',"signature":' + jws.canonical_json(signature) + b"}"


def _members(*, resident: "User", code: str, checkpoint: Any, at: str) -> Iterator[bytes]:
    """The canonical JSON of the `export` object: what the signature's digest covers.

    Its members in sorted order, as canonical JSON has them; the long lists an element
    at a time.
    """
    consents = _consents(resident)
    members: dict[str, Any] = {
        "account": _account(resident),
        "checkpoint": {"tree_size": checkpoint.tree_size, "jws": checkpoint.jws},
        "consents": [_consent(consent) for consent in consents],
        "created_at": at,
        "format": FORMAT,
        "keys": key_history(),
        "links": _links(resident, consents),
        "operator": settings.BASE_URL,
        "receipts": _receipts(resident, size=checkpoint.tree_size),
        "recipient": {"code": code} if code else None,
        "transfers": _transfers(resident),
        "version": VERSION,
    }
    yield b"{"
    for n, (name, value) in enumerate(sorted(members.items())):
        yield (b"," if n else b"") + jws.canonical_json(name) + b":"
        if isinstance(value, Iterator):
            yield from _array(value)
        else:
            yield jws.canonical_json(value)
    yield b"}"


def _array(items: Iterable[Any]) -> Iterator[bytes]:
    yield b"["
    for n, item in enumerate(items):
        yield (b"," if n else b"") + jws.canonical_json(item)
    yield b"]"


def _account(resident: "User") -> dict[str, Any]:
    return {
        "id": account_id(resident),
        "username": resident.get_username(),
        "email": resident.email,
        "first_name": resident.first_name,
        "last_name": resident.last_name,
        "date_joined": iso(resident.date_joined),
    }


def _service(service: Service) -> dict[str, Any]:
    return {
        "id": str(service.id),
        "slug": service.slug,
        "name": {lang: getattr(service, f"name_{lang}") for lang in ("fi", "sv", "en")},
        "organisation": {
            "name": service.organisation.name,
            "business_id": service.organisation.business_id,
        },
    }


def _consents(resident: "User") -> list[Consent]:
    return list(
        Consent.objects.filter(resident=resident)
        .select_related("sink__organisation")
        .prefetch_related(sources_with_services(ConsentSource))
        .order_by("created_at", "id")
    )


def _consent(consent: Consent) -> dict[str, Any]:
    sources = [
        {"service": _service(part.service), "data_types": part.data_types}
        for part in consent.source_parts()
    ]
    return {
        "id": str(consent.id),
        "status": consent.status,
        "sink": _service(consent.sink),
        "sources": sources,
        "data_types": sorted({key for part in sources for key in part["data_types"]}),
        **consent.terms(),
        "language": consent.language,
        "notice_sha256": consent.notice_sha256,
        "algorithms": consent.algorithms,
        "algorithms_sha256": consent.algorithms_sha256,
        "created_at": iso(consent.created_at),
        "status_changed_at": iso(consent.status_changed_at),
        "superseded_by": str(consent.superseded_by_id) if consent.superseded_by_id else None,
    }


def _links(resident: "User", consents: list[Consent]) -> list[dict[str, Any]]:
    """The resident's links; a link's role is what its service is in the resident's consents
    (a sink link is made when a consent is given, a source link when the resident signs in)."""
    sinks = {consent.sink_id for consent in consents}
    sources = {part.service_id for consent in consents for part in consent.source_parts()}
    links = ServiceLink.objects.filter(resident=resident).select_related("service__organisation")
    rows = []
    for link in links.order_by("created_at", "id"):
        roles = [
            role for role, ids in (("source", sources), ("sink", sinks)) if link.service_id in ids
        ] or list(link.service.roles)
        rows.append(
            {
                "id": str(link.id),
                "service": _service(link.service),
                "roles": roles,
                "status": link.status,
                "created_at": iso(link.created_at),
                "confirmed_at": iso(link.confirmed_at) if link.confirmed_at else None,
                "removed_at": iso(link.removed_at) if link.removed_at else None,
            }
        )
    return rows


def _receipts_of(resident: "User") -> QuerySet[Receipt]:
    return Receipt.objects.filter(
        Q(consent__resident=resident) | Q(link__resident=resident) | Q(request__resident=resident)
    )


def _receipts(resident: "User", *, size: int) -> Iterator[dict[str, Any]]:
    """Every receipt about the resident, in log order, each with its inclusion proof under
    the checkpoint of `size` leaves (none for one the log took in after it)."""
    receipts = _receipts_of(resident)
    store = log_proof_store(
        entries=LogEntry.objects.filter(pk__in=receipts.values("entry_id")), size=size
    )
    rows = receipts.order_by(*Receipt.IN_ORDER).values_list(
        "entry_id", "event", "consent_id", "link_id", "request_id", "entry__index", "entry__data"
    )
    for entry_id, event, consent_id, link_id, request_id, index, data in rows.iterator(CHUNK):
        covered = index is not None and index < size
        yield {
            "id": str(entry_id),
            "event": event,
            "consent": _id(consent_id),
            "link": _id(link_id),
            "request": _id(request_id),
            "log_index": index,
            "leaf_hash": b64(merkle.leaf_hash(data.encode())),
            "jws": data,
            "inclusion": b64_all(merkle.inclusion_proof(store, index=index, size=size))
            if index is not None and covered
            else None,
        }


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


_TRANSFER_FIELDS = ("id", "consent_id", "status", "scheduled", "error_code", "created_at",
                    "finished_at")  # fmt: skip
_PART_FIELDS = ("number", "source__slug", "data_types", "status", "byte_count", "sha256",
                "content_type", "error_code", "delivered_at", "receipt_id")  # fmt: skip


def _transfers(resident: "User") -> Iterator[dict[str, Any]]:
    """The resident's transfers, oldest first, each with its parts: one query, a row a part
    (or one row for a transfer that has none yet), grouped back together here."""
    rows = (
        Transfer.objects.filter(consent__resident=resident)
        .order_by("created_at", "id", "parts__number")
        .values_list(*_TRANSFER_FIELDS, *(f"parts__{name}" for name in _PART_FIELDS))
    )
    current: dict[str, Any] | None = None
    for row in rows.iterator(CHUNK):
        transfer, part = row[: len(_TRANSFER_FIELDS)], row[len(_TRANSFER_FIELDS) :]
        if current is None or current["id"] != str(transfer[0]):
            if current is not None:
                yield current
            current = _transfer(transfer)
        if part[0] is not None:
            current["parts"].append(_part(part))
    if current is not None:
        yield current


def _transfer(row: tuple[Any, ...]) -> dict[str, Any]:
    transfer_id, consent_id, status, scheduled, error, created, finished = row
    return {
        "id": str(transfer_id),
        "consent": str(consent_id),
        "status": status,
        "scheduled": scheduled,
        "error_code": error or None,
        "created_at": iso(created),
        "finished_at": iso(finished) if finished else None,
        "parts": [],
    }


def _part(row: tuple[Any, ...]) -> dict[str, Any]:
    number, source, types, status, size, sha256, content_type, error, delivered, receipt = row
    return {
        "number": number,
        "source": source,
        "data_types": types,
        "status": status,
        "byte_count": size,
        "sha256": sha256 or None,
        "content_type": content_type or None,
        "error_code": error or None,
        "delivered_at": iso(delivered) if delivered else None,
        "receipt": str(receipt) if receipt else None,
    }
