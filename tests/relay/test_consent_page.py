"""The resident's page of a consent lists the transfers made under it."""

from consent import services as consent_services
from relay import services
from tests.relay.helpers import relay_until_final, request_transfer
from tests.servers import Answer


def page(client, consent, language: str = "en") -> str:
    response = client.get(f"/my/consents/{consent.id}", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_resident_sees_the_delivered_transfer_on_the_consent_page(client, aino, peers, consent):
    source, _sink = peers
    source.answers = [Answer(body=b"x" * 2048)]
    relay_until_final(request_transfer(consent))
    client.force_login(aino)

    html = page(client, consent)

    assert "<h2>Transfers</h2>" in html
    assert "delivered" in html
    assert "2.0\xa0KB" in html


def test_cancelled_transfer_shows_why_in_plain_words(client, aino, consent):
    transfer, _created = services.transfer_request(
        consent=consent, organisation=consent.sink.organisation
    )
    consent_services.consent_withdraw(consent=consent)
    services.transfer_relay(transfer_id=transfer.id)
    client.force_login(aino)

    html = page(client, consent)

    assert "cancelled" in html
    assert "You withdrew the consent before the data moved." in html
    assert "consent_withdrawn" not in html


def test_consent_page_without_transfers_says_so_in_finnish(client, aino, consent):
    client.force_login(aino)

    assert "Tämän suostumuksen nojalla ei ole vielä siirretty tietoja." in page(
        client, consent, "fi"
    )


def test_another_resident_gets_404_for_the_consent_page(client, eero, consent):
    client.force_login(eero)

    assert client.get(f"/my/consents/{consent.id}").status_code == 404
