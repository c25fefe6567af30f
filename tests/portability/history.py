"""A resident's history to export: links, consents, receipts, transfers with parts."""

import hashlib
import json
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from consent.receipts import transfer_receipt_issue
from relay.models import Transfer, TransferPart
from tests import factories


def delivered_transfer(consent, *, receipt: bool = True) -> Transfer:
    """A transfer of the consent's one source, delivered, with its part's receipt."""
    source = consent.source_parts()[0].service
    now = timezone.now()
    transfer = Transfer.objects.create(
        consent=consent, requested_by=consent.sink.organisation, status="delivered",
        next_attempt_at=now, byte_count=12, sha256="ab" * 32, finished_at=now,
    )  # fmt: skip
    issued = None
    if receipt:
        with transaction.atomic():
            issued = transfer_receipt_issue(
                consent=consent, transfer_id=str(transfer.id), byte_count=12, sha256="ab" * 32,
                part=1, parts=1, source=source,
            )  # fmt: skip
    TransferPart.objects.create(
        transfer=transfer, number=1, source=source, data_types=["wellbeing.steps"],
        status="delivered", byte_count=12, sha256="ab" * 32, content_type="application/json",
        delivered_at=now, receipt=issued,
    )  # fmt: skip
    return transfer


def history(resident, *, sink, source, consents: int = 1, transfers: int = 1):
    """`resident` linked to `source`, with `consents` consents and `transfers` transfers each."""
    factories.link_resident(resident, source)
    made = []
    for n in range(consents):
        request = factories.request_consent(
            sink=sink, source=source, valid_until=timezone.now() + timedelta(days=30 + n)
        )
        consent = factories.grant_consent(request, resident)
        for _ in range(transfers):
            delivered_transfer(consent)
        made.append(consent)
    return made


def read(response) -> dict:
    """A streamed export, parsed."""
    return json.loads(b"".join(response.streaming_content))


def sha256(export: dict) -> str:
    body = json.dumps(export, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def bulk_history(consent, *, consents: int, transfers: int) -> None:
    """`consents` more consents like `consent` (same resident and terms), and `transfers`
    delivered transfers spread over them, written in bulk: for counting queries and timing."""
    from consent.models import Consent, ConsentRequest, ConsentSource

    now = timezone.now()
    request = consent.request
    part = consent.source_parts()[0]
    requests = ConsentRequest.objects.bulk_create(
        ConsentRequest(
            sink=request.sink,
            purpose_fi=request.purpose_fi,
            purpose_sv=request.purpose_sv,
            purpose_en=request.purpose_en,
            purpose_category=request.purpose_category,
            valid_until=request.valid_until,
            frequency=request.frequency,
            return_url=request.return_url,
            status="approved",
            expires_at=now,
            resident=consent.resident,
        )
        for _ in range(consents)
    )
    made = Consent.objects.bulk_create(
        Consent(
            resident=consent.resident,
            request=each,
            sink=consent.sink,
            purpose_fi=consent.purpose_fi,
            purpose_sv=consent.purpose_sv,
            purpose_en=consent.purpose_en,
            purpose_category=consent.purpose_category,
            valid_until=consent.valid_until,
            frequency=consent.frequency,
            language="fi",
            notice_sha256=consent.notice_sha256,
            status_changed_at=now,
        )
        for each in requests
    )
    ConsentSource.objects.bulk_create(
        ConsentSource(consent=each, service=part.service, position=0, data_types=part.data_types)
        for each in made
    )
    runs = Transfer.objects.bulk_create(
        Transfer(
            consent=made[n % consents],
            requested_by=consent.sink.organisation,
            status="delivered",
            next_attempt_at=now,
            byte_count=12,
            sha256="ab" * 32,
            finished_at=now,
        )
        for n in range(transfers)
    )
    TransferPart.objects.bulk_create(
        TransferPart(
            transfer=run,
            number=1,
            source=part.service,
            data_types=part.data_types,
            status="delivered",
            byte_count=12,
            sha256="ab" * 32,
            delivered_at=now,
        )
        for run in runs
    )
