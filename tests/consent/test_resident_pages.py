"""The resident's pages read naturally: links told apart, how often in words, what
happens after withdrawal, organisations' verification, and receipts anyone can check."""

import re

import pytest
from django.utils import translation

from consent.models import Consent, Receipt, frequency_words
from ledger import jws
from registry.models import Organisation
from tests.factories import grant_consent, request_consent

pytestmark = pytest.mark.django_db


def page(client, path: str, language: str = "en") -> str:
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def section(html: str, title: str) -> str:
    start = html.index(title)
    end = html.find("</section>", start)
    return html[start:end]


def test_my_consents_lists_a_sink_apart_from_the_accounts_the_resident_signed_in_to(
    client, aino, consent
):
    client.force_login(aino)

    html = page(client, "/my/consents")

    sources = section(html, "Accounts you linked (sources)")
    sinks = section(html, "Services that receive your data (sinks)")
    assert "Askel watch" in sources
    assert "Wellbeing" not in sources
    assert "Wellbeing" in sinks
    assert "Askel watch" not in sinks
    assert "Stop sending data here" in sinks


def test_the_consent_page_says_how_often_in_plain_words(client, aino, consent):
    client.force_login(aino)

    html = page(client, f"/my/consents/{consent.id}")

    assert "At most once a day" in html


@pytest.mark.parametrize(
    ("language", "limit", "period", "words"),
    [
        ("en", 3, "week", "at most 3 times a week"),
        ("fi", 1, "day", "enintään kerran päivässä"),
        ("fi", 2, "month", "enintään 2 kertaa kuukaudessa"),
        ("sv", 1, "week", "högst en gång i veckan"),
        ("sv", 4, "day", "högst 4 gånger per dag"),
    ],
)
def test_a_frequency_reads_naturally(language, limit, period, words):
    with translation.override(language):
        assert frequency_words(kind="recurring", limit=limit, period=period) == words


def test_a_one_off_consent_moves_data_once(client, aino, wellbeing, wearable, linked):
    request = request_consent(sink=wellbeing, source=wearable, frequency={"kind": "one_off"})
    client.force_login(aino)

    html = page(client, f"/consent/requests/{request.id}")

    assert "How often the data moves: once." in html


def test_the_screen_shows_the_sinks_retention_statement_as_part_of_the_notice(
    client, aino, wellbeing, wearable
):
    wellbeing.retention_en = "We delete your steps within 30 days."
    wellbeing.save()
    request = request_consent(sink=wellbeing, source=wearable)
    client.force_login(aino)

    html = page(client, f"/consent/requests/{request.id}")

    notice = html[html.index('<section class="notice"') :]
    assert "We delete your steps within 30 days." in notice


def test_a_sink_that_stated_nothing_is_said_to_have_stated_nothing(client, aino, consent):
    client.force_login(aino)

    html = page(client, f"/my/consents/{consent.id}")

    assert "Wellbeing has not stated what it does with data it has already received" in html


def test_an_unverified_organisation_is_said_to_be_so_in_words(client, aino, consent):
    Organisation.objects.filter(name="Espoon kaupunki").update(verified=True)
    client.force_login(aino)

    html = page(client, f"/my/consents/{consent.id}")

    assert re.search(r"Espoon kaupunki <span class=\"org-badge\">.*?verified by the city", html)
    assert re.search(r"Askel Wearables Oy <span class=\"org-badge\">.*?not verified by the", html)


def test_each_receipt_says_what_happened_and_which_key_signed_it(client, aino, consent):
    client.force_login(aino)

    html = page(client, f"/my/consents/{consent.id}")

    receipt = Receipt.objects.get(consent=consent, event=Receipt.Event.GRANTED)
    assert "You gave Wellbeing this consent" in html
    assert consent.notice_sha256 in html
    assert jws.header_of(receipt.jws)["kid"] in html
    assert 'href="#verify"' in html
    assert 'id="verify"' in html


def test_a_receipt_downloads_as_the_signed_text(client, aino, consent):
    receipt = Receipt.objects.get(consent=consent, event=Receipt.Event.GRANTED)
    client.force_login(aino)

    response = client.get(f"/my/consents/{consent.id}/receipts/{receipt.pk}.jws")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode() == receipt.jws


def test_another_residents_receipt_is_not_found(client, eero, consent):
    receipt = Receipt.objects.get(consent=consent, event=Receipt.Event.GRANTED)
    client.force_login(eero)

    response = client.get(f"/my/consents/{consent.id}/receipts/{receipt.pk}.jws")

    assert response.status_code == 404


def test_a_receipt_of_another_consent_is_not_found_under_this_one(
    client, aino, consent, wellbeing, wearable
):
    other = grant_consent(
        request_consent(sink=wellbeing, source=wearable, purpose_category="research"), aino
    )
    receipt = Receipt.objects.filter(consent=other).first()
    client.force_login(aino)

    response = client.get(f"/my/consents/{consent.id}/receipts/{receipt.pk}.jws")

    assert response.status_code == 404
    assert Consent.objects.filter(pk=other.pk).exists()
