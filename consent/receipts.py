"""Consent receipts: signed, chained per consent or link, and queued for the log's sequencer.

The payload follows the Kantara Consent Receipt v1.1 fields, with an `omadata`
object for what Kantara lacks (the event, status, the sources with the data
types from each, the sink, terms, the notice hash and the previous receipt's
hash). A receipt does not state its index in the log: it is signed in its
request's transaction, before the log's sequencer gives it a place; the index
comes with its inclusion proof.
"""

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from django.conf import settings
from django.utils import timezone

from consent.models import Consent, ConsentRequest, Receipt, ServiceLink, frequency_words
from ledger import jws
from ledger.log import log_queue
from registry.models import Service

RECEIPT_TYP = "consent-receipt+jwt"
KANTARA_VERSION = "KI-CR-v1.1.0"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _controller(service: Service) -> dict:
    organisation = service.organisation
    return {
        "piiController": organisation.name,
        "contact": organisation.contact_email,
        "email": organisation.contact_email,
        "piiControllerUrl": service.privacy_policy_url,
        "onBehalf": False,
    }


def _service_ref(service: Service) -> dict:
    return {"id": str(service.id), "slug": service.slug, "organisation": service.organisation.name}


def _terms_payload(terms: Consent | ConsentRequest, *, language: str) -> tuple[dict, dict]:
    """The Kantara fields of a consent or a request, and its terms for the omadata object."""
    data_types = sorted(terms.data_types.all(), key=lambda t: t.key)
    sensitive = [t.key for t in data_types if t.sensitive]
    parts = terms.source_parts()
    purpose = {
        "purpose": terms.localized("purpose", language),
        "purposeCategory": [terms.purpose_category],
        "consentType": "EXPLICIT",
        "piiCategory": [t.key for t in data_types],
        "primaryPurpose": True,
        "termination": f"withdrawal by the resident, or {terms.valid_until.isoformat()}",
        "thirdPartyDisclosure": True,
        "thirdPartyName": ", ".join(
            dict.fromkeys(part.service.organisation.name for part in parts)
        ),
    }
    kantara = {
        "collectionMethod": "Omadata consent screen",
        "language": language,
        "piiPrincipalId": terms.principal,
        "piiControllers": [_controller(terms.sink)],
        "policyUrl": terms.sink.privacy_policy_url,
        "services": [{"service": terms.sink.slug, "purposes": [purpose]}],
        "sensitive": bool(sensitive),
        "spiCat": sensitive,
    }
    omadata = {
        "sources": [
            {**_service_ref(part.service), "data_types": list(part.data_types)} for part in parts
        ],
        "sink": _service_ref(terms.sink),
        "data_types": [t.key for t in data_types],
        **terms.terms(),
    }
    return kantara, omadata


# The events that create their subject, so begin its chain: nothing comes before them.
_FIRST_OF_CHAIN = {Receipt.Event.GRANTED, Receipt.Event.LINK_CREATED, Receipt.Event.REFUSED}


def _previous_hash(
    *,
    event: str,
    consent: Consent | None = None,
    link: ServiceLink | None = None,
    request: ConsentRequest | None = None,
) -> str | None:
    if event in _FIRST_OF_CHAIN:
        return None
    if consent is not None:
        previous = Receipt.objects.filter(consent=consent)
    elif link is not None:
        previous = Receipt.objects.filter(link=link)
    else:
        previous = Receipt.objects.filter(request=request)
    return previous.order_by(*Receipt.LATEST_FIRST).values_list("entry__sha256", flat=True).first()


class _Subject(TypedDict, total=False):
    """What a receipt is about: one of these."""

    consent: Consent
    link: ServiceLink
    request: ConsentRequest


def _issue(
    *,
    event: str,
    payload: dict,
    omadata: dict,
    part_source: Service | None = None,
    **subject: Unpack[_Subject],
) -> Receipt:
    """Sign and log one receipt. Runs inside the caller's transaction."""
    receipt_id = uuid.uuid4()  # the receipt states its own id, which its log entry takes
    payload.update(
        version=KANTARA_VERSION,
        jurisdiction="FI",
        consentTimestamp=int(timezone.now().timestamp()),
        consentReceiptID=str(receipt_id),
    )
    omadata = {
        "event": event,
        **omadata,
        "previous_receipt_sha256": _previous_hash(event=event, **subject),
        "operator": settings.BASE_URL,
    }
    payload["omadata"] = omadata
    entry = log_queue(data=jws.sign(payload, typ=RECEIPT_TYP), entry_id=receipt_id)
    return Receipt.objects.create(entry=entry, event=event, part_source=part_source, **subject)


def consent_receipt_issue(*, consent: Consent, event: str, reason: str = "") -> Receipt:
    payload, terms = _terms_payload(consent, language=consent.language)
    omadata = {
        "consent_id": str(consent.id),
        "status": consent.status,
        "request_id": str(consent.request_id),
        "notice_sha256": consent.notice_sha256,
        "algorithms_sha256": consent.algorithms_sha256,
        **terms,
    }
    if reason:
        omadata["reason"] = reason
    if consent.superseded_by_id:
        omadata["superseded_by"] = str(consent.superseded_by_id)
    return _issue(event=event, payload=payload, omadata=omadata, consent=consent)


def transfer_receipt_issue(
    *,
    consent: Consent,
    transfer_id: str,
    byte_count: int,
    sha256: str,
    part: int,
    parts: int,
    source: Service,
) -> Receipt:
    """The evidence that one part of a transfer reached the sink, chained to the consent's
    receipts: one receipt per part delivered.

    It states the part's source, its number in the run, and the body's size and
    SHA-256, never its content.
    """
    payload, terms = _terms_payload(consent, language=consent.language)
    omadata = {
        "consent_id": str(consent.id),
        "status": consent.status,
        "transfer_id": str(transfer_id),
        "part": part,
        "parts": parts,
        "part_source": _service_ref(source),
        "algorithms_sha256": consent.algorithms_sha256,
        "byte_count": byte_count,
        "sha256": sha256,
        **terms,
    }
    return _issue(
        event=Receipt.Event.DELIVERED, payload=payload, omadata=omadata, consent=consent,
        part_source=source,
    )  # fmt: skip


def refusal_receipt_issue(
    *, request: ConsentRequest, language: str, notice_sha256: str, algorithms_sha256: str
) -> Receipt:
    payload, terms = _terms_payload(request, language=language)
    omadata = {
        "consent_id": None,
        "status": "refused",
        "request_id": str(request.id),
        "notice_sha256": notice_sha256,
        "algorithms_sha256": algorithms_sha256,
        **terms,
    }
    return _issue(event=Receipt.Event.REFUSED, payload=payload, omadata=omadata, request=request)


def link_receipt_issue(*, link: ServiceLink, event: str, language: str = "fi") -> Receipt:
    payload = {
        "collectionMethod": "Omadata account linking",
        "language": language,
        # The pairwise id the service already knows: nothing new for it to join on.
        "piiPrincipalId": link.subject,
        "piiControllers": [_controller(link.service)],
        "policyUrl": link.service.privacy_policy_url,
        "services": [
            {
                "service": link.service.slug,
                "purposes": [
                    {
                        "purpose": "Linking the resident's account at this service to Omadata",
                        "purposeCategory": ["account_link"],
                        "consentType": "EXPLICIT",
                        "piiCategory": ["pairwise_subject_id"],
                        "primaryPurpose": True,
                        "termination": "removal of the link by the resident",
                        "thirdPartyDisclosure": False,
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
    }
    omadata = {
        "link_id": str(link.id),
        "status": link.status,
        "service": _service_ref(link.service),
        "subject": link.subject,
    }
    return _issue(event=event, payload=payload, omadata=omadata, link=link)


def receipt_verify(token: str) -> dict:
    """Verify a receipt with the operator's published keys; return its payload."""
    return jws.verify(token, typ=RECEIPT_TYP)


@dataclass(frozen=True)
class ReceiptShown:
    """What one receipt says, read from its signed text, for the resident's page.

    Read, not verified: the operator shows its own receipts; what they prove is for
    anyone to check with the published keys (docs/auditors.md).
    """

    receipt: Receipt
    kid: str
    notice_sha256: str
    algorithms_sha256: str
    reason: str
    valid_until: datetime | None
    frequency: str
    byte_count: int | None
    sha256: str
    part: int | None
    parts: int | None
    part_source: str


def receipt_shown(receipt: Receipt, *, source_names: Mapping[str, str]) -> ReceiptShown:
    """`receipt` as the page shows it; a delivered part names its source as
    `source_names` (slug to name) does, or by its slug."""
    header, payload = jws.header_of(receipt.jws), jws.payload_of(receipt.jws)
    omadata = payload.get("omadata") or {}
    frequency = omadata.get("frequency") or {}
    valid_until = omadata.get("valid_until")
    slug = str((omadata.get("part_source") or {}).get("slug", ""))
    return ReceiptShown(
        receipt=receipt,
        kid=str(header.get("kid", "")),
        notice_sha256=str(omadata.get("notice_sha256") or ""),
        algorithms_sha256=str(omadata.get("algorithms_sha256") or ""),
        reason=str(omadata.get("reason") or ""),
        valid_until=datetime.fromisoformat(valid_until) if valid_until else None,
        frequency=frequency_words(
            kind=str(frequency.get("kind", "")),
            limit=frequency.get("limit"),
            period=str(frequency.get("period") or ""),
        )
        if frequency
        else "",
        byte_count=omadata.get("byte_count"),
        sha256=str(omadata.get("sha256") or ""),
        part=omadata.get("part"),
        parts=omadata.get("parts"),
        part_source=source_names.get(slug, slug),
    )
