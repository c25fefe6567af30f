"""Every kind of receipt verifies with an independent JOSE library and the JWKS alone."""

import hashlib
import json
import re
import uuid
from datetime import timedelta

import jwt
import pytest
import time_machine

from consent import services
from consent.models import Consent, Receipt
from consent.receipts import receipt_verify, transfer_receipt_issue
from ledger import keys
from tests.factories import request_consent

pytestmark = pytest.mark.django_db
KANTARA_FIELDS = {
    "version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID",
    "language", "piiPrincipalId", "piiControllers", "policyUrl", "services", "sensitive",
    "spiCat", "omadata",
}  # fmt: skip


@pytest.fixture
def every_event(consent, consent_request, linked, wellbeing, wearable, aino):
    """One receipt of every kind, with a key rotation in the middle."""
    services.consent_pause(consent=consent)
    keys.key_rotate()
    services.consent_resume(consent=consent)
    transfer_receipt_issue(
        consent=consent, transfer_id=str(uuid.uuid4()), byte_count=5,
        sha256=hashlib.sha256(b"12345").hexdigest(), part=1, parts=1,
        source=consent.sources.get().service,
    )  # fmt: skip
    refused = request_consent(sink=wellbeing, source=wearable)
    services.consent_refuse(request=refused, resident=aino, language="en", notice_text="n")
    with time_machine.travel(consent.valid_until + timedelta(seconds=1), tick=False):
        services.consent_expire_due()
    again = request_consent(sink=wellbeing, source=wearable)
    withdrawn = services.consent_grant(request=again, resident=aino, language="sv", notice_text="n")
    services.consent_withdraw(consent=withdrawn)
    services.link_remove(link=linked)
    return Receipt.objects.order_by(*Receipt.IN_ORDER)


def test_one_receipt_of_every_kind_was_made(every_event):
    assert set(every_event.values_list("event", flat=True)) == set(Receipt.Event.values)


def test_every_receipt_verifies_with_pyjwt_and_the_published_jwks(every_event, client):
    published = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())

    kids = set()
    for receipt in every_event:
        header = jwt.get_unverified_header(receipt.jws)
        assert header["alg"] == "ES256"
        assert header["typ"] == "consent-receipt+jwt"
        payload = jwt.decode(
            receipt.jws, key=published[header["kid"]], algorithms=["ES256"],
            options={"verify_aud": False},
        )  # fmt: skip
        assert set(payload) == KANTARA_FIELDS
        assert payload["omadata"]["event"] == receipt.event
        assert "log_index" not in payload["omadata"]  # its place comes with its proof
        kids.add(header["kid"])
    assert len(kids) == 2  # signed before and after the rotation


def test_receipts_never_name_the_resident(every_event, aino):
    for receipt in every_event:
        assert aino.username not in json.dumps(receipt_verify(receipt.jws))


def test_one_consents_receipts_share_a_pseudonym_used_nowhere_else(every_event, consent):
    def principals(receipts) -> set[str]:
        return {receipt_verify(r.jws)["piiPrincipalId"] for r in receipts}

    own = principals(every_event.filter(consent=consent))
    others = principals(every_event.exclude(consent=consent))

    assert len(own) == 1
    assert not own & others  # services cannot join a resident across consents or links


def test_link_receipts_name_the_resident_by_the_services_pairwise_subject(every_event, linked):
    for receipt in every_event.filter(link=linked):
        assert receipt_verify(receipt.jws)["piiPrincipalId"] == linked.subject


def test_sensitive_data_is_marked_in_the_receipt(wellbeing, wearable, aino, linked, settings):
    wellbeing.accepted_types.add(*wearable.offered_types.all())
    request = request_consent(sink=wellbeing, source=wearable, data_types=["wellbeing.heart_rate"])
    consent = services.consent_grant(request=request, resident=aino, language="fi", notice_text="n")

    payload = receipt_verify(consent.receipts.get().jws)
    assert payload["sensitive"] is True
    assert payload["spiCat"] == ["wellbeing.heart_rate"]


def test_in_production_a_resident_answering_before_the_key_is_published_gets_503(
    client, aino, linked, consent_request, settings, monkeypatch
):
    settings.PRODUCTION = True
    pem = keys.new_key().export_to_pem(private_key=True, password=None).decode()
    monkeypatch.setenv("OMADATA_SIGNING_KEY", pem)
    client.force_login(aino)

    page = client.get(f"/consent/requests/{consent_request.id}").content.decode()
    notice_sha256 = re.search(r'name="notice_sha256" value="([0-9a-f]{64})"', page)[1]

    response = client.post(
        f"/consent/requests/{consent_request.id}/answer",
        {"answer": "approve", "notice_sha256": notice_sha256},
    )

    assert response.status_code == 503
    assert not Consent.objects.exists()
