"""A resident closes their account: everything withdrawn and notified, the account erased."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from common.errors import Conflict
from consent import services
from consent.models import Consent, ConsentRequest, Receipt, ServiceLink
from consent.receipts import receipt_verify
from ledger import jws
from ledger.integrity import log_check
from ledger.log import log_integrate
from registry.models import AuditEvent
from tests.factories import (
    PASSWORD,
    grant_consent,
    link_resident,
    make_auditor,
    request_consent,
    request_consent_over,
)
from webhooks.models import Notification
from webhooks.services import NOTIFICATION_TYP

pytestmark = pytest.mark.django_db
STEPS, HEART, CONTACT = "wellbeing.steps", "wellbeing.heart_rate", "city.contact_details"
CLOSE = "/my/account/close"


@pytest.fixture
def aino_named(aino):
    """Aino with her address and names on her account, as an operator may hold them."""
    aino.email, aino.first_name, aino.last_name = "aino@example.fi", "Aino", "Virtanen"
    aino.save()
    return aino


@pytest.fixture
def joint(aino, joiner, wearable, city, linked):
    """Aino's consent for the joiner to get her steps from the watch and details from the city."""
    link_resident(aino, city, reference="resident-9")
    request = request_consent_over(
        sink=joiner,
        parts=[(wearable, [STEPS]), (city, [CONTACT])],
        subject_label="aino.virtanen@example.fi",
    )
    return grant_consent(request, aino)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def close(client: Client, **data) -> object:
    return client.post(CLOSE, {"confirm": "close", **data})


def notified(consent: Consent) -> set:
    """The services told that `consent` was withdrawn, with the withdrawal's receipt."""
    receipt = consent.receipts.get(event=Receipt.Event.WITHDRAWN)
    told = set()
    for row in Notification.objects.filter(event="consent.withdrawn"):
        data = jws.verify(row.body, typ=NOTIFICATION_TYP)["data"]
        if data["consent_id"] == str(consent.id) and data["receipt"] == receipt.jws:
            told.add(row.service_id)
    return told


# -- the Done-means test ---------------------------------------------------------------------


def test_closing_withdraws_notifies_and_erases(aino_named, consent, joint, wearable, city):
    services.consent_pause(consent=consent)
    links = list(ServiceLink.objects.filter(resident=aino_named, status="active"))
    before = set(Receipt.objects.values_list("pk", flat=True))

    response = close(logged_in(aino_named))

    assert (response.status_code, response["Location"]) == (302, "/")
    for each in (consent, joint):
        each.refresh_from_db()
        assert each.status == "withdrawn"
        receipt = each.receipts.get(event=Receipt.Event.WITHDRAWN)
        assert receipt_verify(receipt.jws)["omadata"]["reason"] == "account_closed"
        assert notified(each) == {*(s.pk for s in services.request_sources(each)), each.sink_id}
    assert notified(joint) == {wearable.pk, city.pk, joint.sink_id}
    assert len(links) == 4  # the watch, the city, and the two sinks
    for link in links:
        link.refresh_from_db()
        assert link.status == "removed"
        assert link.receipts.filter(event=Receipt.Event.LINK_REMOVED).count() == 1
    user = get_user_model().objects.get(pk=aino_named.pk)
    assert user.username.startswith("closed-")
    assert (user.email, user.first_name, user.last_name, user.is_active) == ("", "", "", False)
    assert not user.has_usable_password()
    fields = [f.attname for f in user._meta.concrete_fields if f.attname != "password"]
    values = " ".join(str(getattr(user, name)) for name in fields).lower()
    assert not [word for word in ("aino", "virtanen", "example.fi") if word in values]
    # Nor the sinks' names for her accounts there, which the requests she answered kept.
    assert set(
        ConsentRequest.objects.filter(resident=user).values_list("subject_label", flat=True)
    ) == {""}
    assert before < set(Receipt.objects.values_list("pk", flat=True))  # nothing taken out
    log_integrate()
    assert log_check()[1] == []


def test_closing_records_an_audit_event_under_the_pseudonym(aino, consent):
    close(logged_in(aino))

    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_CLOSED)
    user = get_user_model().objects.get(pk=aino.pk)
    assert event.actor_id == aino.pk
    assert event.detail == {
        "username": user.username, "consents_withdrawn": 1, "links_removed": 2,
    }  # fmt: skip


def test_closing_leaves_other_residents_consents_alone(aino, eero, consent, consent_request):
    link_resident(eero, consent.source_parts()[0].service)
    other = grant_consent(
        request_consent(sink=consent.sink, source=consent.source_parts()[0].service), eero
    )

    close(logged_in(aino))

    other.refresh_from_db()
    assert other.status == "active"
    assert get_user_model().objects.get(pk=eero.pk).username == "eero"


def test_closing_leaves_an_ended_consent_without_a_new_receipt(aino, consent):
    services.consent_withdraw(consent=consent)

    close(logged_in(aino))

    assert consent.receipts.filter(event=Receipt.Event.WITHDRAWN).count() == 1


def test_closing_abandons_a_pending_link(aino, city):
    services.link_start(resident=aino, service=city, return_to="https://x/back")

    close(logged_in(aino))

    assert ServiceLink.objects.get(resident=aino, service=city).status == "abandoned"


def test_closing_leaves_a_claimed_open_request_open_and_bound(aino, wellbeing, wearable):
    request = request_consent(sink=wellbeing, source=wearable)
    services.consent_request_claim(request=request, resident=aino)

    close(logged_in(aino))

    request.refresh_from_db()
    assert (request.status, request.resident_id) == ("open", aino.pk)
    assert not Receipt.objects.filter(request=request).exists()


def test_closing_logs_the_resident_out_of_every_session(aino, consent):
    other_browser = logged_in(aino)
    closing = logged_in(aino)

    close(closing)

    assert closing.get("/my/consents")["Location"].startswith("/accounts/login/")
    assert other_browser.get("/my/consents")["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("username", ["aino", "pseudonym"])
def test_a_closed_account_cannot_log_in(aino, username):
    close(logged_in(aino))
    if username == "pseudonym":
        username = get_user_model().objects.get(pk=aino.pk).username

    response = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})

    assert response.status_code == 200  # the form again, not a redirect in
    assert "_auth_user_id" not in response.client.session


def test_the_page_says_receipts_stay_and_offers_the_data_first(aino, consent):
    page = logged_in(aino).get(CLOSE, headers={"accept-language": "en"}).content.decode()

    assert "append-only" in page
    assert page.index('id="export-heading"') < page.index(
        '<form method="post" action="/my/account/close"'
    )


def test_my_consents_links_to_closing(aino):
    assert CLOSE in logged_in(aino).get("/my/consents").content.decode()


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [{}, {"confirm": "yes"}, {"confirm": ""}])
def test_closing_without_the_confirmation_changes_nothing(aino, consent, data):
    receipts = Receipt.objects.count()

    response = logged_in(aino).post(CLOSE, data)

    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    consent.refresh_from_db()
    aino.refresh_from_db()
    assert (consent.status, aino.username, aino.is_active) == ("active", "aino", True)
    assert Receipt.objects.count() == receipts
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_CLOSED).exists()


def test_closing_without_a_csrf_token_is_refused(aino, consent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(aino)

    response = close(client)

    assert response.status_code == 403
    consent.refresh_from_db()
    assert consent.status == "active"
    assert get_user_model().objects.get(pk=aino.pk).is_active


@pytest.mark.parametrize("who", ["staff", "auditor", "provider"])
def test_only_a_residents_account_closes_here(who, staff, sink_provider):
    user = {"staff": staff, "auditor": make_auditor(), "provider": sink_provider.user}[who]

    response = close(logged_in(user))

    assert response.status_code == 403
    user.refresh_from_db()
    assert user.is_active
    assert not user.username.startswith("closed-")


def test_the_service_refuses_to_close_a_staff_account(staff):
    with pytest.raises(Conflict) as raised:
        services.account_close(resident=staff)

    assert raised.value.code == "account_not_closable"


def test_an_account_closes_once(aino):
    services.account_close(resident=aino)

    with pytest.raises(Conflict) as raised:
        services.account_close(resident=aino)

    assert raised.value.code == "account_closed"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_CLOSED).count() == 1


def _tables_naming(words: tuple[str, ...]) -> dict[str, list[str]]:
    """Every model's rows, as text, that hold one of `words` (lower case)."""
    from django.apps import apps

    found: dict[str, list[str]] = {}
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        for row in model.objects.values_list(*fields):
            text = str(row).lower()
            hits = [word for word in words if word in text]
            if hits:
                found.setdefault(model._meta.label, []).extend(hits)
    return found


def test_closing_leaves_no_table_naming_the_resident(aino_named, consent, joint, client):
    from portability.models import ImportedHistory

    signed_in = client.post("/accounts/login/", {"username": "aino", "password": PASSWORD})
    assert signed_in.status_code == 302  # a login leaves its traces
    client.get("/my/consents?lang=sv")
    services.language_preference_set(resident=aino_named, language="sv")
    account = {"id": "a" * 32, "username": "aino", "email": "aino@example.fi",
               "first_name": "Aino", "last_name": "Virtanen"}  # fmt: skip
    ImportedHistory.objects.create(
        resident=aino_named, operator="https://operator.example.fi", account=account["id"],
        exported_at=aino_named.date_joined, sha256="0" * 64,
        document={"export": {"account": account}, "signature": ""},
    )  # fmt: skip

    close(client)

    assert _tables_naming(("virtanen", "aino@example.fi", "'aino'")) == {}
