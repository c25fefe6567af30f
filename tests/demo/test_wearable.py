"""The Askel smartwatch demo source: linking, and the data it gives the operator."""

import re
import time
import uuid

import pytest
import requests
from django.contrib.auth import get_user_model
from jwcrypto import jwk

from consent import services
from consent.models import LinkToken, ServiceLink
from demo.operator_api import OperatorApi
from ledger import jws, keys
from tests.demo.world import form_field, get, link_at_the_watch

pytestmark = pytest.mark.django_db(transaction=True)
RETURN_TO = "http://127.0.0.1:9/consent/screen"


def link_aino(world) -> str:
    """Link the demo resident at the watch through its pages; return the pairwise subject."""
    aino = get_user_model().objects.get(username="aino")
    return link_at_the_watch(world, aino, return_to=RETURN_TO).subject


def _link_form_token(browser: requests.Session, world, link_token: str) -> str:
    page = browser.get(f"{world.url}/wearable/link", params={"link_token": link_token}, timeout=10)
    return form_field(page.text, "csrf_token")


def test_link_confirms_at_the_operator_and_returns(demo_world):
    subject = link_aino(demo_world)

    link = ServiceLink.objects.get(subject=subject)
    assert link.status == ServiceLink.Status.ACTIVE
    assert link.service_reference == "askel-user-1"
    assert demo_world.store.link_user(subject, service="wearable") == "askel-user-1"


def test_link_page_gives_each_browser_its_own_form_secret(demo_world):
    aino = get_user_model().objects.get(username="aino")
    started = services.link_start(resident=aino, service=demo_world.wearable, return_to=RETURN_TO)

    pages = [
        get(f"{demo_world.url}/wearable/link", params={"link_token": started.token})
        for _browser in range(2)
    ]

    cookies = [page.headers["Set-Cookie"] for page in pages]
    assert all("HttpOnly" in c and "SameSite=Lax" in c and "Path=/wearable/" in c for c in cookies)
    assert cookies[0] != cookies[1]
    assert form_field(pages[0].text, "csrf_token") != form_field(pages[1].text, "csrf_token")


def test_link_refuses_a_token_for_another_service(demo_world):
    now = int(time.time())
    token = jws.sign(
        {"iss": demo_world.operator, "aud": str(demo_world.wellbeing.id), "sub": "x",
         "jti": "j", "iat": now, "exp": now + 60, "return_to": RETURN_TO},
        typ="link+jwt",
    )  # fmt: skip

    aino = get_user_model().objects.get(username="aino")
    good = services.link_start(resident=aino, service=demo_world.wearable, return_to=RETURN_TO)
    browser = requests.Session()  # with a form token from a page it was shown
    form_token = _link_form_token(browser, demo_world, good.token)

    page = get(f"{demo_world.url}/wearable/link", params={"link_token": token})
    answer = browser.post(
        f"{demo_world.url}/wearable/link", data={"link_token": token, "csrf_token": form_token},
        allow_redirects=False, timeout=10,
    )  # fmt: skip

    assert (page.status_code, answer.status_code) == (400, 400)
    assert "Location" not in answer.headers
    assert demo_world.store.links() == []


def transfer_claims(world, subject: str, **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": world.operator, "aud": str(world.wearable.id), "sub": subject,
        "consent_id": str(uuid.uuid4()), "transfer_id": str(uuid.uuid4()),
        "data_types": ["wellbeing.steps"], "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120,
    }  # fmt: skip
    claims.update(changes)
    return claims


def fetch(world, token: str):
    return get(f"{world.url}/wearable/data", headers={"Authorization": f"Bearer {token}"})


def test_data_answers_only_the_requested_types(demo_world):
    subject = link_aino(demo_world)
    token = jws.sign(transfer_claims(demo_world, subject), typ="transfer+jwt")

    answer = fetch(demo_world, token)

    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    days = answer.json()["wellbeing.steps"]
    assert list(answer.json()) == ["wellbeing.steps"]
    assert len(days) == 7
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d["date"]) and d["steps"] > 0 for d in days)
    assert fetch(demo_world, token).json() == answer.json()  # deterministic demo data


def _foreign_key_same_kid() -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv="P-256", kid=keys.active_key()["kid"])


@pytest.mark.parametrize(
    ("why", "forge"),
    [
        ("expired", lambda w, s: jws.sign(
            transfer_claims(w, s, exp=int(time.time()) - 1), typ="transfer+jwt")),
        ("wrong audience", lambda w, s: jws.sign(
            transfer_claims(w, s, aud=str(w.wellbeing.id)), typ="transfer+jwt")),
        ("wrong typ", lambda w, s: jws.sign(transfer_claims(w, s), typ="link+jwt")),
        ("wrong issuer", lambda w, s: jws.sign(
            transfer_claims(w, s, iss="http://127.0.0.1:9"), typ="transfer+jwt")),
        ("foreign key", lambda w, s: jws.sign(
            transfer_claims(w, s), typ="transfer+jwt", key=_foreign_key_same_kid())),
        ("unknown kid", lambda w, s: jws.sign(
            transfer_claims(w, s), typ="transfer+jwt",
            key=jwk.JWK.generate(kty="EC", crv="P-256", kid="not-the-operators"))),
        ("no token", lambda w, s: ""),
    ],
)  # fmt: skip
def test_data_refuses_a_bad_token(demo_world, why, forge):
    subject = link_aino(demo_world)

    answer = fetch(demo_world, forge(demo_world, subject))

    assert answer.status_code == 401, why
    assert "wellbeing.steps" not in answer.text


def test_data_refuses_a_subject_that_is_not_linked(demo_world):
    link_aino(demo_world)
    token = jws.sign(transfer_claims(demo_world, "someone-else"), typ="transfer+jwt")

    assert fetch(demo_world, token).status_code == 403


def test_data_answers_heart_rate_alone_when_only_it_is_requested(demo_world):
    subject = link_aino(demo_world)
    claims = transfer_claims(demo_world, subject, data_types=["wellbeing.heart_rate"])

    answer = fetch(demo_world, jws.sign(claims, typ="transfer+jwt"))

    assert list(answer.json()) == ["wellbeing.heart_rate"]
    assert all(50 <= day["resting_bpm"] < 80 for day in answer.json()["wellbeing.heart_rate"])


@pytest.mark.parametrize("data_types", [["city.contact_details"], [], [{"a": 1}], "steps"])
def test_data_refuses_types_the_watch_does_not_offer(demo_world, data_types):
    subject = link_aino(demo_world)
    claims = transfer_claims(demo_world, subject, data_types=data_types)

    answer = fetch(demo_world, jws.sign(claims, typ="transfer+jwt"))

    assert answer.status_code == 403
    assert answer.json()["code"] == "data_types_not_offered"


def test_data_accepts_a_token_signed_with_a_key_rotated_in_after_the_first_fetch(
    demo_world, monkeypatch
):
    monkeypatch.setattr(OperatorApi, "jwks_refetch_interval", 0.0)
    subject = link_aino(demo_world)  # the demo has fetched the key set once
    keys.key_rotate()

    answer = fetch(demo_world, jws.sign(transfer_claims(demo_world, subject), typ="transfer+jwt"))

    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "forgery", ["no cookie, no form token", "its own cookie, no form token", "another's form token"]
)
def test_link_form_refuses_a_post_that_its_page_did_not_make(demo_world, forgery):
    """A page elsewhere posts the attacker's link token from a browser signed in at Askel."""
    eero = get_user_model().objects.create_user(username="eero")
    token = services.link_start(
        resident=eero, service=demo_world.wearable, return_to=RETURN_TO
    ).token
    victim = requests.Session()
    data = {"link_token": token}
    if forgery != "no cookie, no form token":
        _link_form_token(victim, demo_world, token)  # the victim's browser has a secret of its own
    if forgery == "another's form token":
        data["csrf_token"] = _link_form_token(requests.Session(), demo_world, token)

    answer = victim.post(
        f"{demo_world.url}/wearable/link", data=data, allow_redirects=False, timeout=10
    )

    assert answer.status_code == 403
    assert "Location" not in answer.headers
    assert demo_world.store.links() == []
    assert LinkToken.objects.get().used_at is None  # the operator was never asked
