"""Espoo's newcomer service: a resident moving from Helsinki brings her history with one consent.

The page says from which city the history came: the organisation that the delivery
token's `source` names, or, from an operator whose tokens name none, the consent's
only source.
"""

import base64
import hashlib
import json
import time
import uuid

import pytest
import requests

from consent.models import Consent
from demo.newcomer import BROWSER_COOKIE
from demo.store import account_of
from ledger import jws
from tests.demo.world import join_and_approve, post
from tests.servers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
HISTORY = {
    "city.address_history": [
        {"from": "2020-06-01", "to": None, "municipality": "Helsinki", "district": "Kallio"}
    ],
    "library.loans": [{"year": 2025, "loans": 42}],
}
BODY = json.dumps(HISTORY).encode()
FROM_HELSINKI = "Your history from Helsingin kaupunki (Helsinki resident records)"


@pytest.fixture
def newcomer(demo_world) -> requests.Session:
    """A browser that has opened the newcomer page, and so has an account there."""
    session = requests.Session()
    assert session.get(f"{demo_world.url}/newcomer/", timeout=10).status_code == 200
    return session


def account(session: requests.Session) -> str:
    return account_of(session.cookies[BROWSER_COOKIE])


def attached(world, session, *, sources: list | None = None) -> str:
    consent_id = str(uuid.uuid4())
    world.store.consent_attach(consent_id=consent_id, account=account(session), status="active",
                               sources=sources)  # fmt: skip
    return consent_id


def helsinki_claim(world) -> dict:
    service = world.helsinki
    return {"id": str(service.id), "slug": service.slug, "organisation": service.organisation.name}


def deliver(world, *, consent_id: str, transfer_id: str, source: dict | None, part: bool = True):
    now = int(time.time())
    claims = {
        "iss": world.operator, "aud": str(world.newcomer.id), "sub": "sink-subject",
        "consent_id": consent_id, "transfer_id": transfer_id,
        "data_types": ["city.address_history", "library.loans"], "jti": str(uuid.uuid4()),
        "iat": now, "exp": now + 120,
    }  # fmt: skip
    if part:
        claims |= {"part": 1, "parts": 1}
    if source is not None:
        claims["source"] = source
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    headers = {
        "Authorization": f"Bearer {jws.sign(claims, typ='transfer+jwt')}",
        "Idempotency-Key": f"{transfer_id}.1" if part else transfer_id,
        "Content-Type": "application/json", "Content-Digest": f"sha-256=:{digest}:",
    }  # fmt: skip
    return post(f"{world.url}/newcomer/deliver", headers=headers, data=BODY)


def page(world, session, lang: str = "en") -> str:
    return session.get(f"{world.url}/newcomer/", params={"lang": lang}, timeout=10).text


def test_the_history_shows_the_city_its_source_names(demo_world, newcomer):
    consent_id = attached(demo_world, newcomer)

    answer = deliver(demo_world, consent_id=consent_id, transfer_id=str(uuid.uuid4()),
                     source=helsinki_claim(demo_world))  # fmt: skip

    assert answer.status_code == 200, answer.text
    shown = page(demo_world, newcomer)
    assert f"<h2>{FROM_HELSINKI}</h2>" in shown
    assert "<td>Kallio</td>" in shown
    assert "<tr><td>2025</td><td>42</td></tr>" in shown


def test_a_delivery_is_kept_once_per_key(demo_world, newcomer):
    consent_id, transfer_id = attached(demo_world, newcomer), str(uuid.uuid4())
    source = helsinki_claim(demo_world)

    first = deliver(demo_world, consent_id=consent_id, transfer_id=transfer_id, source=source)
    again = deliver(demo_world, consent_id=consent_id, transfer_id=transfer_id, source=source)

    assert [first.json()["status"], again.json()["status"]] == ["received", "already_received"]
    assert [d["idempotency_key"] for d in demo_world.store.deliveries()] == [f"{transfer_id}.1"]
    assert page(demo_world, newcomer).count(FROM_HELSINKI) == 1


def test_without_a_source_in_the_token_the_city_is_the_consents_only_source(demo_world, newcomer):
    consent_id = attached(demo_world, newcomer, sources=[helsinki_claim(demo_world)])

    deliver(demo_world, consent_id=consent_id, transfer_id=str(uuid.uuid4()), source=None,
            part=False)  # fmt: skip

    assert FROM_HELSINKI in page(demo_world, newcomer)


def test_a_source_named_nowhere_is_said_to_be_unnamed(demo_world, newcomer):
    consent_id = attached(demo_world, newcomer)

    deliver(demo_world, consent_id=consent_id, transfer_id=str(uuid.uuid4()), source=None,
            part=False)  # fmt: skip

    assert "from a source Omadata did not name" in page(demo_world, newcomer)


def test_another_browser_sees_no_one_elses_history(demo_world, newcomer):
    consent_id = attached(demo_world, newcomer)
    deliver(demo_world, consent_id=consent_id, transfer_id=str(uuid.uuid4()),
            source=helsinki_claim(demo_world))  # fmt: skip

    other = requests.Session()

    assert FROM_HELSINKI not in page(demo_world, other)
    assert FROM_HELSINKI in page(demo_world, newcomer)


def test_deliver_refuses_a_token_for_the_wellbeing_service(demo_world, newcomer):
    now = int(time.time())
    token = jws.sign(
        {"iss": demo_world.operator, "aud": str(demo_world.wellbeing.id), "sub": "s",
         "transfer_id": "t", "exp": now + 60},
        typ="transfer+jwt",
    )  # fmt: skip

    answer = post(f"{demo_world.url}/newcomer/deliver", data=BODY,
                  headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "t"})  # fmt: skip

    assert answer.status_code == 401
    assert demo_world.store.deliveries() == []


@pytest.mark.parametrize(
    ("lang", "heading", "button"),
    [
        ("fi", "Historiasi: Helsingin kaupunki (Helsingin asukastiedot)", "Muutan Espooseen"),
        ("sv", "Din historik från Helsingin kaupunki (Helsingfors invånaruppgifter)",
         "Jag flyttar till Esbo"),
    ],
)  # fmt: skip
def test_the_page_speaks_the_residents_language(demo_world, newcomer, lang, heading, button):
    consent_id = attached(demo_world, newcomer)
    deliver(demo_world, consent_id=consent_id, transfer_id=str(uuid.uuid4()),
            source=helsinki_claim(demo_world))  # fmt: skip

    shown = page(demo_world, newcomer, lang)

    assert f'<html lang="{lang}">' in shown
    assert f"<h2>{heading}</h2>" in shown
    assert f">{button}</button>" in shown


def test_a_resident_moving_from_helsinki_brings_her_history_to_espoo(demo_world):
    approved = join_and_approve(demo_world, "/newcomer/")
    browser, back = approved.browser, approved.back

    assert "Helsinki resident records" in approved.screen
    assert back.url.startswith(f"{demo_world.url}/newcomer/?answer=approved")
    consent = Consent.objects.get()
    assert (consent.sink, consent.purpose_category, consent.frequency) == (
        demo_world.newcomer,
        "relocation",
        "one_off",
    )
    [delivery] = wait_for(demo_world.store.deliveries)
    shown = browser.get(f"{demo_world.url}/newcomer/", timeout=10).text
    assert f"<h2>{FROM_HELSINKI}</h2>" in shown
    assert "<td>Kallio</td>" in shown
    assert delivery["consent_id"] == str(consent.id)
