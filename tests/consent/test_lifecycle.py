"""The consent lifecycle in the service layer: every change leaves a chained, logged receipt."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from common.errors import Conflict
from consent import services
from consent.models import Consent, ConsentRequest, Receipt, ServiceLink
from consent.receipts import receipt_verify, sha256_hex
from ledger.log import log_integrate
from ledger.models import LogHead
from tests.factories import NOTICE, request_spec
from webhooks.models import Notification

pytestmark = pytest.mark.django_db


def events(consent) -> list[str]:
    return list(consent.receipts.order_by(*Receipt.IN_ORDER).values_list("event", flat=True))


def test_grant_creates_an_active_consent_with_a_signed_receipt(consent, aino):
    receipt = consent.receipts.get()
    payload = receipt_verify(receipt.jws)

    assert consent.status == "active"
    assert payload["omadata"]["event"] == "consent.granted"
    assert payload["omadata"]["consent_id"] == str(consent.id)
    assert payload["omadata"]["notice_sha256"] == sha256_hex(NOTICE)
    assert "log_index" not in payload["omadata"]  # signed before the sequencer places it
    assert receipt.log_index is None
    assert payload["version"] == "KI-CR-v1.1.0"
    assert payload["piiPrincipalId"] != aino.username


def test_grant_without_a_link_to_the_source_is_refused(consent_request, aino):
    with pytest.raises(Conflict) as raised:
        services.consent_grant(
            request=consent_request, resident=aino, language="fi", notice_text=NOTICE
        )

    assert raised.value.code == "link_required"
    assert not Consent.objects.exists()


def test_grant_links_the_resident_to_the_sink_with_its_reference(consent, aino, wellbeing):
    link = ServiceLink.objects.get(resident=aino, service=wellbeing)

    assert link.status == "active"
    assert link.service_reference == "espoo-user-17"


def test_pairwise_subjects_differ_between_services(consent, aino):
    subjects = list(ServiceLink.objects.filter(resident=aino).values_list("subject", flat=True))

    assert len(subjects) == 2
    assert len(set(subjects)) == 2


def test_each_change_chains_to_the_previous_receipt(consent):
    services.consent_pause(consent=consent)
    services.consent_resume(consent=consent)
    services.consent_withdraw(consent=consent)

    receipts = list(consent.receipts.order_by(*Receipt.IN_ORDER))
    assert events(consent) == [
        "consent.granted", "consent.paused", "consent.resumed", "consent.withdrawn",
    ]  # fmt: skip
    previous = None
    for receipt in receipts:
        assert receipt_verify(receipt.jws)["omadata"]["previous_receipt_sha256"] == previous
        previous = receipt.sha256


def test_withdrawn_consent_cannot_be_resumed(consent):
    services.consent_withdraw(consent=consent)

    with pytest.raises(Conflict) as raised:
        services.consent_resume(consent=consent)

    assert raised.value.code == "invalid_transition"
    assert events(consent)[-1] == "consent.withdrawn"


def test_refusal_leaves_a_receipt_and_no_consent(consent_request, aino):
    receipt = services.consent_refuse(
        request=consent_request, resident=aino, language="sv", notice_text=NOTICE
    )

    assert receipt_verify(receipt.jws)["omadata"]["status"] == "refused"
    assert receipt_verify(receipt.jws)["language"] == "sv"
    assert not Consent.objects.exists()
    consent_request.refresh_from_db()
    assert consent_request.status == "refused"


def test_a_request_is_answered_only_once(consent, consent_request, aino):
    with pytest.raises(Conflict) as raised:
        services.consent_refuse(
            request=consent_request, resident=aino, language="fi", notice_text=""
        )

    assert raised.value.code == "request_answered"


def test_an_expired_request_cannot_be_answered(consent_request, aino, linked):
    later = consent_request.expires_at + timedelta(seconds=1)

    with time_machine.travel(later, tick=False), pytest.raises(Conflict) as raised:
        services.consent_grant(
            request=consent_request, resident=aino, language="fi", notice_text=""
        )

    assert raised.value.code == "request_expired"


def test_another_resident_cannot_answer_a_claimed_request(consent_request, aino, eero, linked):
    from django.http import Http404

    services.consent_request_claim(request=consent_request, resident=aino)

    with pytest.raises(Http404):
        services.consent_grant(
            request=consent_request, resident=eero, language="fi", notice_text=""
        )


def test_a_new_consent_supersedes_the_old_one(consent, wellbeing, wearable, aino):
    second = services.consent_request_create(sink=wellbeing, spec=request_spec(wearable))

    new = services.consent_grant(request=second, resident=aino, language="en", notice_text=NOTICE)

    consent.refresh_from_db()
    assert consent.status == "withdrawn"
    assert consent.superseded_by == new
    last = receipt_verify(consent.receipts.order_by(*Receipt.IN_ORDER).last().jws)
    assert last["omadata"]["reason"] == "superseded"
    assert new.status == "active"


def test_expiry_marks_due_consents_expired(consent):
    later = consent.valid_until + timedelta(seconds=1)

    with time_machine.travel(later, tick=False):
        assert services.consent_expire_due() == 1
        assert services.consent_expire_due() == 0

    consent.refresh_from_db()
    assert consent.status == "expired"
    assert events(consent)[-1] == "consent.expired"


def test_every_change_notifies_source_and_sink(consent, wearable, wellbeing):
    services.consent_withdraw(consent=consent)

    sent = Notification.objects.filter(event="consent.withdrawn")
    assert {n.service_id for n in sent} == {wearable.id, wellbeing.id}


def test_receipts_fill_the_log_without_gaps(consent):
    services.consent_pause(consent=consent)
    log_integrate()

    indexes = list(
        Receipt.objects.order_by(*Receipt.IN_ORDER).values_list("entry__index", flat=True)
    )
    assert indexes == list(range(len(indexes)))
    assert LogHead.objects.get().tree_size == len(indexes)


def test_a_failed_change_leaves_no_receipt_and_no_log_entry(consent, monkeypatch):
    log_integrate()
    size = LogHead.objects.get().tree_size

    def broken(**kwargs):
        raise RuntimeError("notification outbox unavailable")

    monkeypatch.setattr(services, "notify", broken)
    with pytest.raises(RuntimeError):
        services.consent_pause(consent=consent)

    consent.refresh_from_db()
    assert consent.status == "active"
    assert log_integrate() == 0
    assert LogHead.objects.get().tree_size == size
    assert Receipt.objects.count() == size


def test_request_with_a_data_type_the_source_does_not_offer_is_refused(wellbeing, wearable):
    spec = request_spec(wearable, data_types=["city.contact_details"])

    with pytest.raises(ValidationError) as raised:
        services.consent_request_create(sink=wellbeing, spec=spec)

    assert raised.value.error_dict["data_types"][0].code == "not_offered"
    assert not ConsentRequest.objects.exists()


def test_request_with_a_data_type_the_sink_does_not_accept_is_refused(wellbeing, wearable):
    spec = request_spec(wearable, data_types=["wellbeing.heart_rate"])

    with pytest.raises(ValidationError) as raised:
        services.consent_request_create(sink=wellbeing, spec=spec)

    assert raised.value.error_dict["data_types"][0].code == "not_accepted"


def test_request_valid_for_longer_than_the_maximum_is_refused(wellbeing, wearable, settings):
    spec = request_spec(wearable, valid_until=timezone.now() + timedelta(days=366))

    with pytest.raises(ValidationError) as raised:
        services.consent_request_create(sink=wellbeing, spec=spec)

    assert raised.value.error_dict["valid_until"][0].code == "too_long"


def test_request_returning_off_the_sinks_origin_is_refused(wellbeing, wearable):
    spec = request_spec(wearable, return_url="https://wearable.example.fi/steal")

    with pytest.raises(ValidationError) as raised:
        services.consent_request_create(sink=wellbeing, spec=spec)

    assert raised.value.error_dict["return_url"][0].code == "foreign_origin"


def test_link_token_is_single_use(aino, wearable):
    token = services.link_start(resident=aino, service=wearable, return_to="https://x/back").token
    services.link_confirm(service=wearable, token=token, reference="r1")

    with pytest.raises(ValidationError) as raised:
        services.link_confirm(service=wearable, token=token, reference="r1")

    assert raised.value.error_dict["token"][0].code == "token_used"


def test_expired_link_token_is_refused(aino, wearable, settings):
    token = services.link_start(resident=aino, service=wearable, return_to="https://x/back").token
    later = timezone.now() + timedelta(seconds=settings.OMADATA_LINK_TOKEN_SECONDS + 1)

    with time_machine.travel(later, tick=False), pytest.raises(ValidationError) as raised:
        services.link_confirm(service=wearable, token=token, reference="r1")

    assert raised.value.error_dict["token"][0].code == "token_expired"
    assert ServiceLink.objects.get().status == "pending"


def test_link_token_for_another_service_is_refused(aino, wearable, wellbeing):
    started = services.link_start(resident=aino, service=wearable, return_to="https://x/back")

    with pytest.raises(ValidationError) as raised:
        services.link_confirm(service=wellbeing, token=started.token, reference="r")

    assert raised.value.error_dict["token"][0].code == "token_wrong_audience"


def test_removing_a_link_withdraws_the_consents_that_need_it(consent, linked):
    services.link_remove(link=linked)

    consent.refresh_from_db()
    assert consent.status == "withdrawn"
    assert Receipt.objects.filter(link=linked).count() == 2


def test_grant_links_a_sink_that_is_also_a_source_afresh(wellbeing, wearable, aino, linked):
    """A pending link there may be tied to whoever finished its link page: it is not reused."""
    wellbeing.is_source = True
    wellbeing.link_url = "https://sink.example.fi/link"
    wellbeing.save()
    services.link_start(resident=aino, service=wellbeing, return_to="https://x/back")
    request = services.consent_request_create(sink=wellbeing, spec=request_spec(wearable))

    services.consent_grant(request=request, resident=aino, language="fi", notice_text=NOTICE)

    links = ServiceLink.objects.filter(resident=aino, service=wellbeing).order_by("created_at")
    assert [(link.status, link.service_reference) for link in links] == [
        ("abandoned", ""),
        ("active", "espoo-user-17"),
    ]
    assert links[0].subject != links[1].subject


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_grants_at_once_leave_one_consent_active(wellbeing, wearable, aino, linked):
    import threading

    from django.db import connection

    # Linked at the sink already: both grants go straight to the supersede step.
    ServiceLink.objects.create(resident=aino, service=wellbeing, subject="s", status="active")
    first, second = (
        services.consent_request_create(sink=wellbeing, spec=request_spec(wearable))
        for _ in range(2)
    )
    barrier = threading.Barrier(2)

    def grant(request):
        barrier.wait()
        try:
            services.consent_grant(request=request, resident=aino, language="fi", notice_text="n")
        finally:
            connection.close()

    threads = [threading.Thread(target=grant, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert Consent.objects.filter(status="active").count() == 1
    assert Consent.objects.filter(status="withdrawn").count() == 1
