"""The consent screen and the resident's pages, through Django's test client."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from consent.models import Consent, Receipt
from consent.receipts import receipt_verify
from tests.factories import make_auditor, request_consent

pytestmark = pytest.mark.django_db


def screen(client, consent_request, language="en"):
    return client.get(f"/consent/requests/{consent_request.id}", HTTP_ACCEPT_LANGUAGE=language)


def answer(client, consent_request, choice: str, language="en"):
    page = screen(client, consent_request, language).content.decode()
    notice_sha256 = re.search(r'name="notice_sha256" value="([0-9a-f]{64})"', page)[1]
    return client.post(
        f"/consent/requests/{consent_request.id}/answer",
        {"answer": choice, "notice_sha256": notice_sha256},
        HTTP_ACCEPT_LANGUAGE=language,
    )


def test_screen_needs_a_login(client, consent_request):
    response = screen(client, consent_request)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_screen_shows_who_asks_what_why_and_how_long(client, aino, consent_request):
    client.force_login(aino)

    page = screen(client, consent_request).content.decode()

    assert "Espoon kaupunki" in page
    assert "An exercise programme." in page
    assert "Valid until" in page
    assert "withdraw this consent at any time" in page


def test_screen_names_the_account_at_the_sink_that_the_resident_joins(
    client, aino, wellbeing, wearable
):
    request = request_consent(sink=wellbeing, source=wearable, subject_label="<b>eero</b>@x")
    client.force_login(aino)

    page = screen(client, request).content.decode()

    assert (
        "You are joining Wellbeing as <strong>&lt;b&gt;eero&lt;/b&gt;@x</strong>. "
        "Approve only if that is your account there"
    ) in page


def test_screen_without_a_label_says_to_approve_only_ones_own_request(
    client, aino, consent_request
):
    client.force_login(aino)

    page = screen(client, consent_request).content.decode()

    assert "Approve only a request that you started yourself at Wellbeing" in page


def test_screen_asks_to_link_the_source_first(client, aino, consent_request):
    client.force_login(aino)

    page = screen(client, consent_request).content.decode()

    assert "Link my account at Askel watch" in page
    assert 'value="approve"' not in page


def test_linking_sends_the_resident_to_the_source_with_a_token(client, aino, consent_request):
    client.force_login(aino)

    response = client.post(f"/consent/requests/{consent_request.id}/link")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == "https://wearable.example.fi/link"
    )
    assert "link_token" in parse_qs(location.query)


def test_approving_returns_to_the_sink_with_the_consent_and_state(
    client, aino, linked, consent_request
):
    client.force_login(aino)

    response = answer(client, consent_request, "approve", language="sv")

    consent = Consent.objects.get()
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"consent_id": [str(consent.id)], "state": ["xyz"]}
    assert consent.language == "sv"


def test_refusing_returns_to_the_sink_with_access_denied(client, aino, consent_request):
    client.force_login(aino)

    response = answer(client, consent_request, "refuse")

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["xyz"]}
    assert Receipt.objects.get().event == "consent.refused"


def test_the_receipt_holds_the_hash_of_the_notice_as_shown(client, aino, linked, consent_request):
    client.force_login(aino)
    page = screen(client, consent_request, "fi").content.decode()
    shown = re.search(r'name="notice_sha256" value="([0-9a-f]{64})"', page)[1]

    answer(client, consent_request, "approve", language="fi")

    payload = receipt_verify(Consent.objects.get().receipts.get().jws)
    assert payload["omadata"]["notice_sha256"] == shown


def test_post_without_csrf_token_is_refused(aino, linked, consent_request):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(aino)

    response = client.post(
        f"/consent/requests/{consent_request.id}/answer",
        {"answer": "approve", "notice_sha256": "x"},
    )

    assert response.status_code == 403
    assert not Consent.objects.exists()


def test_opening_the_screen_claims_nothing(client, aino, eero, consent_request):
    """Whoever opens a forwarded address first must not take the request from its resident."""
    client.force_login(eero)
    assert screen(client, consent_request).status_code == 200
    client.force_login(aino)

    page = screen(client, consent_request)

    assert page.status_code == 200
    assert "Link my account at Askel watch" in page.content.decode()
    consent_request.refresh_from_db()
    assert consent_request.resident is None


def test_another_resident_gets_404_for_a_claimed_request(client, aino, eero, consent_request):
    client.force_login(aino)
    client.post(f"/consent/requests/{consent_request.id}/link")  # acting on it claims it
    client.force_login(eero)

    assert screen(client, consent_request).status_code == 404
    response = client.post(f"/consent/requests/{consent_request.id}/answer", {"answer": "refuse"})
    assert response.status_code == 404


def test_another_resident_gets_404_for_an_answered_request(client, aino, eero, consent_request):
    client.force_login(aino)
    answer(client, consent_request, "refuse")
    client.force_login(eero)

    assert screen(client, consent_request).status_code == 404


def test_resident_withdraws_in_one_step(client, aino, consent):
    client.force_login(aino)

    response = client.post(f"/my/consents/{consent.id}/withdraw")

    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "withdrawn"


def test_another_resident_cannot_withdraw(client, eero, consent):
    client.force_login(eero)

    assert client.post(f"/my/consents/{consent.id}/withdraw").status_code == 404
    consent.refresh_from_db()
    assert consent.status == "active"


def test_unknown_action_is_404(client, aino, consent):
    client.force_login(aino)

    assert client.post(f"/my/consents/{consent.id}/delete").status_code == 404


def test_my_consents_lists_the_consent_with_its_receipts(client, aino, consent):
    client.force_login(aino)

    listing = client.get("/my/consents", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    detail = client.get(f"/my/consents/{consent.id}", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Wellbeing" in listing
    assert consent.receipts.get().jws in detail


def test_consent_screen_allows_forms_to_reach_the_sink_and_source(client, aino, consent_request):
    client.force_login(aino)

    policy = screen(client, consent_request)["Content-Security-Policy"]

    form_action = next(d for d in policy.split(";") if "form-action" in d)
    assert "https://sink.example.fi" in form_action
    assert "https://wearable.example.fi" in form_action


def not_stored(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize(
    "page",
    ["/consent/requests/{request}", "/my/consents", "/my/consents/{consent}"],
    ids=["consent-screen", "my-consents", "my-consent"],
)
def test_residents_pages_are_never_stored_by_a_cache(client, aino, consent, page):
    client.force_login(aino)

    response = client.get(page.format(request=consent.request_id, consent=consent.id))

    assert response.status_code == 200
    assert not_stored(response), response.get("Cache-Control")


def test_login_page_is_never_stored_by_a_cache(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert not_stored(response)


def test_public_front_page_may_be_stored(client):
    assert not not_stored(client.get("/"))


def test_an_auditor_gives_no_consent_and_links_nothing(client, consent_request):
    auditor = make_auditor()
    client.force_login(auditor)

    answered = answer(client, consent_request, "approve", language="en")
    linking = client.post(f"/consent/requests/{consent_request.id}/link")

    assert (answered.status_code, linking.status_code) == (403, 403)
    assert "account cannot give consent or link services" in answered.content.decode()
    assert not Consent.objects.exists()
    assert not Receipt.objects.exists()


def test_an_auditor_resumes_no_consent_but_may_stop_one(client, consent, aino):
    from consent import services as consent_services
    from registry import services as registry_services

    consent_services.consent_pause(consent=consent)
    registry_services.auditor_grant(user=aino, actor=None)
    client.force_login(aino)

    resumed = client.post(f"/my/consents/{consent.id}/resume")
    withdrawn = client.post(f"/my/consents/{consent.id}/withdraw")

    assert (resumed.status_code, withdrawn.status_code) == (403, 302)
    consent.refresh_from_db()
    assert consent.status == Consent.Status.WITHDRAWN
