"""The Espoo wellbeing demo sink: deliveries, notifications, and the resident's whole trip."""

import base64
import hashlib
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import transaction
from jwcrypto import jwk

from consent.models import Consent
from demo.wellbeing import BROWSER_COOKIE
from ledger import jws
from tests.demo.world import link_every_source, post, sink_browser
from tests.servers import wait_for
from webhooks import services as notifications
from webhooks.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)
BODY = json.dumps({"wellbeing.steps": [{"date": "2026-11-27", "steps": 8123}]}).encode()


def delivery_headers(
    world, *, transfer_id: str, body: bytes = BODY, digest: str | None = None,
    consent_id: str | None = None,
):  # fmt: skip
    now = int(time.time())
    token = jws.sign(
        {"iss": world.operator, "aud": str(world.wellbeing.id), "sub": "sink-subject",
         "consent_id": consent_id or str(uuid.uuid4()), "transfer_id": transfer_id,
         "data_types": ["wellbeing.steps"], "jti": str(uuid.uuid4()), "iat": now,
         "exp": now + 120},
        typ="transfer+jwt",
    )  # fmt: skip
    digest = digest or base64.b64encode(hashlib.sha256(body).digest()).decode()
    return {
        "Authorization": f"Bearer {token}", "Idempotency-Key": transfer_id,
        "Content-Type": "application/json", "Content-Digest": f"sha-256=:{digest}:",
    }  # fmt: skip


def deliver(world, headers, body: bytes = BODY):
    return post(f"{world.url}/wellbeing/deliver", headers=headers, data=body)


def attached(world, participant) -> str:
    """A consent that the participant's browser brought back: its id."""
    consent_id = str(uuid.uuid4())
    world.store.consent_attach(consent_id=consent_id, account=participant.account, status="active")
    return consent_id


def test_deliver_applies_a_repeated_idempotency_key_once(demo_world, participant):
    transfer_id, consent_id = str(uuid.uuid4()), attached(demo_world, participant)
    headers = delivery_headers(demo_world, transfer_id=transfer_id, consent_id=consent_id)

    first = deliver(demo_world, headers)
    again = deliver(demo_world, headers)

    assert (first.status_code, again.status_code) == (200, 200), first.text
    assert [d["idempotency_key"] for d in demo_world.store.deliveries()] == [transfer_id]
    page = participant.page(demo_world)
    assert transfer_id in page
    assert "1 days, 8123 steps" in page


def test_the_page_shows_only_what_arrived_for_its_own_account(demo_world, participant):
    theirs = attached(demo_world, participant)
    transfer_id = str(uuid.uuid4())
    deliver(demo_world, delivery_headers(demo_world, transfer_id=transfer_id, consent_id=theirs))

    page = sink_browser(demo_world).page(demo_world)  # another browser

    assert transfer_id not in page
    assert theirs not in page
    assert "Nothing has arrived yet." in page
    assert transfer_id in participant.page(demo_world)


def test_deliver_rejects_a_wrong_content_digest(demo_world):
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    headers = delivery_headers(demo_world, transfer_id=str(uuid.uuid4()), digest=wrong)

    answer = deliver(demo_world, headers)

    assert answer.status_code == 400
    assert answer.json()["code"] == "digest_mismatch"
    assert demo_world.store.deliveries() == []


def test_deliver_refuses_a_token_for_the_source(demo_world):
    headers = delivery_headers(demo_world, transfer_id=str(uuid.uuid4()))
    now = int(time.time())
    headers["Authorization"] = "Bearer " + jws.sign(
        {"iss": demo_world.operator, "aud": str(demo_world.wearable.id), "sub": "s",
         "transfer_id": headers["Idempotency-Key"], "exp": now + 60},
        typ="transfer+jwt",
    )  # fmt: skip

    assert deliver(demo_world, headers).status_code == 401
    assert demo_world.store.deliveries() == []


def queue(service, event="consent.granted", consent_id: str | None = None) -> Notification:
    # Delivered on commit, in this process (deliver_in_process), by notification_deliver.
    data = {"consent_id": consent_id or str(uuid.uuid4()), "status": "active"}
    with transaction.atomic():
        return notifications.notify(service=service, event=event, data=data)


@pytest.mark.parametrize("slug", ["wearable", "wellbeing"])
def test_webhook_verifies_and_records_a_notification(demo_world, participant, slug):
    notification = queue(getattr(demo_world, slug), consent_id=attached(demo_world, participant))

    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    assert notifications.notification_deliver(notification_id=notification.id) is None
    events = demo_world.store.events(slug)
    assert [(e["id"], e["event"]) for e in events] == [(str(notification.id), "consent.granted")]
    page = participant.session.get(f"{demo_world.url}/{slug}/", timeout=10).text
    assert "consent.granted" in page


def test_a_granted_notification_alone_attaches_the_consent_to_no_account(demo_world, participant):
    consent_id = str(uuid.uuid4())

    notification = queue(demo_world.wellbeing, consent_id=consent_id)

    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    assert demo_world.store.consents() == []
    page = participant.page(demo_world)
    assert consent_id not in page  # nor in the notifications it shows
    assert "No consent yet." in page


def test_webhook_records_a_repeated_notification_once(demo_world):
    notification = queue(demo_world.wellbeing)

    again = post(
        f"{demo_world.url}/wellbeing/webhook", data=notification.body,
        headers={"Content-Type": "application/jose"},
    )  # fmt: skip

    assert again.status_code == 200
    assert len(demo_world.store.events("wellbeing")) == 1


def test_webhook_refuses_a_notification_for_another_service(demo_world):
    notification = queue(demo_world.wellbeing)

    answer = post(
        f"{demo_world.url}/wearable/webhook", data=notification.body,
        headers={"Content-Type": "application/jose"},
    )  # fmt: skip

    assert answer.status_code == 400
    assert demo_world.store.events("wearable") == []


def test_webhook_refuses_a_forged_notification(demo_world):
    foreign = jwk.JWK.generate(kty="EC", crv="P-256", kid="forger")
    body = jws.sign(
        {"id": "n1", "event": "consent.withdrawn", "aud": str(demo_world.wellbeing.id),
         "iat": int(time.time()), "data": {}},
        typ="notification+jwt", key=foreign,
    )  # fmt: skip

    answer = post(
        f"{demo_world.url}/wellbeing/webhook", data=body,
        headers={"Content-Type": "application/jose"},
    )  # fmt: skip

    assert answer.status_code == 400
    assert demo_world.store.events("wellbeing") == []


def _form(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page)[1]


def _operator_post(browser, url: str, page, **data):
    data["csrfmiddlewaretoken"] = _form(page.text, "csrfmiddlewaretoken")
    return browser.post(url, data=data, headers={"Referer": page.url}, timeout=10)


def test_resident_joins_links_approves_and_comes_back(demo_world):
    resident_joins_links_and_approves(demo_world)


def resident_joins_links_and_approves(demo_world) -> requests.Session:
    """The whole trip, checked step by step; returns the browser that made it."""
    browser = requests.Session()
    landing = browser.get(f"{demo_world.url}/wellbeing/", timeout=10)
    assert "Join the exercise programme" in landing.text
    account = re.search(r"You are participant (\w+) here", landing.text)[1]

    # Joining sends the browser to Omadata, which asks the resident to log in first.
    login = browser.post(
        f"{demo_world.url}/wellbeing/join", data={"csrf_token": _form(landing.text, "csrf_token")},
        timeout=10,
    )  # fmt: skip
    assert login.url.startswith(demo_world.operator)
    resident = demo_world.seeded["resident"]
    screen = _operator_post(
        browser, login.url, login, username=resident["username"], password=resident["password"]
    )
    assert "notice_sha256" in screen.text
    assert f"<strong>participant {account}</strong>" in screen.text  # whose account she joins
    consent_url = screen.url.split("?")[0]

    # Linking goes to the watch, which confirms and sends the browser back to Omadata with a
    # code; Omadata makes the link in this session and goes on to the screen.
    watch = _operator_post(browser, f"{consent_url}/link", screen)
    assert "You are signed in to Askel as" in watch.text
    linked = browser.post(
        f"{demo_world.url}/wearable/link", timeout=10,
        data={name: _form(watch.text, name) for name in ("link_token", "csrf_token")},
    )  # fmt: skip
    assert linked.history[-1].url.startswith(f"{demo_world.operator}/consent/links/return?code=")
    assert linked.url == consent_url
    assert 'class="message success" role="status"' in linked.text  # "… is linked."
    linked = link_every_source(demo_world, browser, linked)  # the city's sports services too

    back = _operator_post(
        browser, f"{consent_url}/answer", linked,
        answer="approve", notice_sha256=_form(linked.text, "notice_sha256"),
    )  # fmt: skip
    assert back.history[-1].url.startswith(f"{demo_world.url}/wellbeing/back?")
    assert back.url.startswith(f"{demo_world.url}/wellbeing/?answer=approved")
    consent = Consent.objects.get()
    assert f"You approved: consent {consent.id} is active" in back.text
    assert "Transfer: " in back.text  # requested; what came of it depends on the relay
    assert "You approved" in browser.get(back.url, timeout=10).text  # the page may be reloaded
    assert [(c["id"], c["status"], c["account"]) for c in demo_world.store.consents()] == [
        (str(consent.id), "active", account)
    ]
    return browser


def test_back_refuses_a_state_the_sink_never_issued(demo_world):
    answer = requests.get(
        f"{demo_world.url}/wellbeing/back", params={"consent_id": str(uuid.uuid4()), "state": "x"},
        timeout=10,
    )  # fmt: skip

    assert answer.status_code == 400
    assert demo_world.store.consents() == []


def test_back_shows_a_refusal(demo_world, participant):
    secret = participant.session.cookies[BROWSER_COOKIE]
    demo_world.store.state_save(
        "issued", browser=secret, account=participant.account, request_id=str(uuid.uuid4())
    )

    answer = participant.session.get(
        f"{demo_world.url}/wellbeing/back", params={"error": "access_denied", "state": "issued"},
        timeout=10,
    )  # fmt: skip

    assert answer.status_code == 200
    assert "You refused" in answer.text


def test_deliver_stores_once_when_the_same_key_arrives_concurrently(demo_world):
    transfer_id = str(uuid.uuid4())
    headers = delivery_headers(demo_world, transfer_id=transfer_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _n: deliver(demo_world, headers), range(8)))

    assert [a.status_code for a in answers] == [200] * 8
    assert sorted(a.json()["status"] for a in answers) == ["already_received"] * 7 + ["received"]
    assert len(demo_world.store.deliveries()) == 1


def test_webhook_follows_a_transfer_without_changing_the_consent(demo_world):
    consent_id, transfer_id = str(uuid.uuid4()), str(uuid.uuid4())
    demo_world.store.consent_attach(consent_id=consent_id, account="a1", status="active")
    demo_world.store.transfer_save(
        transfer_id=transfer_id, consent_id=consent_id, status="queued", news=False
    )

    with transaction.atomic():
        notifications.notify(
            service=demo_world.wellbeing, event="transfer.delivered",
            data={"transfer_id": transfer_id, "status": "delivered", "consent_id": consent_id},
        )  # fmt: skip

    [consent] = demo_world.store.consents()
    assert (consent["status"], consent["transfer"]) == ("active", f"{transfer_id} delivered")
    # The answer to the request, arriving late, does not undo the news.
    demo_world.store.transfer_save(
        transfer_id=transfer_id, consent_id=consent_id, status="queued", news=False
    )
    assert demo_world.store.consents()[0]["transfer"] == f"{transfer_id} delivered"


def test_approved_consent_brings_a_week_of_steps_and_visits_to_the_sink_page(demo_world):
    browser = resident_joins_links_and_approves(demo_world)

    parts = wait_for(
        lambda: len(demo_world.store.deliveries()) == 2 and demo_world.store.deliveries()
    )
    wait_for(lambda: "delivered" in demo_world.store.consents()[0]["transfer"])
    [consent] = demo_world.store.consents()

    [transfer_id] = {part["transfer_id"] for part in parts}
    assert consent["transfer"] == f"{transfer_id} delivered"
    page = browser.get(f"{demo_world.url}/wellbeing/", timeout=10).text
    assert all(part["idempotency_key"] in page for part in parts)
    assert re.search(r"7 days, \d+ steps<", page)
    assert re.search(r"7 days, \d+ swims, \d+ gym visits<", page)


@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
def test_a_deeply_nested_delivery_is_summarised_as_unexpected(
    demo_world, participant, depth, objects
):
    body = (b'{"a":' * depth + b"1" + b"}" * depth) if objects else b"[" * depth + b"]" * depth
    transfer_id = str(uuid.uuid4())
    headers = delivery_headers(
        demo_world, transfer_id=transfer_id, body=body, consent_id=attached(demo_world, participant)
    )

    answer = deliver(demo_world, headers, body)

    assert answer.status_code == 200, answer.text
    page = participant.session.get(f"{demo_world.url}/wellbeing/", timeout=10)
    assert page.status_code == 200
    assert "not the JSON this service expects" in page.text


@pytest.mark.parametrize("part", ["header", "payload"])
@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_webhook_refuses_a_deeply_nested_notification_with_400(demo_world, part, depth):
    from jwcrypto import jws as raw

    from ledger import keys

    deep = b"[" * depth + b"]" * depth
    key = keys.active_key()
    if part == "payload":
        # Signed with the operator's own key: only the nesting is wrong.
        token = raw.JWS(deep)
        token.add_signature(
            key,
            alg="ES256",
            protected={"alg": "ES256", "kid": key["kid"], "typ": "notification+jwt"},
        )
        body = token.serialize(compact=True)
    else:
        header = base64.urlsafe_b64encode(deep).rstrip(b"=").decode()
        body = f"{header}.e30.c2ln"

    answer = post(
        f"{demo_world.url}/wellbeing/webhook", data=body,
        headers={"Content-Type": "application/jose"},
    )  # fmt: skip

    assert answer.status_code == 400, answer.text
    assert demo_world.store.events("wellbeing") == []
