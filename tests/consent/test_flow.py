"""The whole consent flow over real HTTP, as a sink, a source and a resident live it.

The operator runs as a live server; the source and the sink are real HTTP
services on 127.0.0.1 that verify the operator's signatures with its JWKS,
fetched over HTTP, using PyJWT rather than the operator's own JOSE code.
"""

import re
from datetime import timedelta

import jwt
import pytest
import requests
from django.utils import timezone

from consent.models import Consent
from registry import services as registry_services
from tests.factories import PASSWORD, register_service, sink_spec, source_spec
from tests.peers import BrowserFacingService
from tests.servers import WebhookReceiver, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SCOPES = "consents:request consents:read"


@pytest.fixture
def world(live_operator, loopback_allowed, source_provider, sink_provider, data_types, staff):
    parts = {
        "source_web": BrowserFacingService(operator_url=live_operator).start(),
        "sink_web": BrowserFacingService(operator_url=live_operator).start(),
        "source_hooks": WebhookReceiver().start(),
        "sink_hooks": WebhookReceiver().start(),
    }
    source_role = {
        "fetch_url": f"{parts['source_web'].url}/data",
        "link_url": f"{parts['source_web'].url}/link",
        "data_types": ["wellbeing.steps"],
    }
    sink_role = {
        "delivery_url": f"{parts['sink_web'].url}/deliver",
        "data_types": ["wellbeing.steps"],
    }
    parts["source"] = register_service(
        source_provider,
        source_spec(source=source_role, webhook_url=parts["source_hooks"].url),
        approve_by=staff,
    )
    parts["sink"] = register_service(
        sink_provider,
        sink_spec(sink=sink_role, webhook_url=parts["sink_hooks"].url),
        approve_by=staff,
    )
    application, secret = registry_services.credential_create(provider=source_provider, name="web")
    parts["source_web"].act_as(
        service_id=str(parts["source"].id), client_id=application.client_id, client_secret=secret
    )
    application, secret = registry_services.credential_create(provider=sink_provider, name="api")
    parts["sink_api"] = _api_session(live_operator, application.client_id, secret)
    yield parts
    for name in ("source_web", "sink_web", "source_hooks", "sink_hooks"):
        parts[name].stop()


def _api_session(base: str, client_id: str, secret: str) -> requests.Session:
    token = requests.post(
        f"{base}/o/token/", data={"grant_type": "client_credentials", "scope": SCOPES},
        auth=(client_id, secret), timeout=10,
    ).json()["access_token"]  # fmt: skip
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page)[1]


def _csrf(page: str) -> str:
    return _field(page, "csrfmiddlewaretoken")


def _post(browser: requests.Session, url: str, page_url: str, page: str, **data):
    data["csrfmiddlewaretoken"] = _csrf(page)
    return browser.post(url, data=data, headers={"Referer": page_url}, timeout=10)


def test_consent_flow_end_to_end(live_server, world, aino, deliver_in_process):
    base = live_server.url
    # The sink asks for consent.
    asked = world["sink_api"].post(
        f"{base}/api/v1/consent-requests",
        json={
            "sink": str(world["sink"].id), "source": str(world["source"].id),
            "data_types": ["wellbeing.steps"],
            "purpose": {"fi": "Liikunta.", "sv": "Motion.", "en": "Exercise."},
            "purpose_category": "wellbeing",
            "valid_until": (timezone.now() + timedelta(days=30)).isoformat(),
            "frequency": {"kind": "one_off"},
            "return_url": f"{world['sink_web'].url}/back", "state": "flow-1",
        },
        timeout=10,
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    consent_url = asked.json()["url"]

    # The resident logs in, links the source, and approves.
    browser = requests.Session()
    browser.headers["Accept-Language"] = "fi"
    login = browser.get(consent_url, timeout=10)
    screen = _post(browser, login.url, login.url, login.text, username="aino", password=PASSWORD)
    assert "notice_sha256" in screen.text
    link_page = _post(browser, f"{consent_url}/link", screen.url, screen.text)
    assert "You are signed in at the test source" in link_page.text
    linked = browser.post(
        link_page.url.split("?")[0], timeout=10,
        data={name: _field(link_page.text, name) for name in ("link_token", "csrf_token")},
    )  # fmt: skip
    assert world["source_web"].errors == []
    assert linked.history[-1].url.startswith(f"{base}/consent/links/return?code=")
    assert linked.url == consent_url
    notice_sha256 = re.search(r'name="notice_sha256" value="([0-9a-f]{64})"', linked.text)[1]
    back = _post(
        browser, f"{consent_url}/answer", linked.url, linked.text,
        answer="approve", notice_sha256=notice_sha256,
    )  # fmt: skip
    assert back.url.startswith(f"{world['sink_web'].url}/back")
    consent_id = world["sink_web"].returns[0]["consent_id"]
    assert world["sink_web"].returns == [{"consent_id": consent_id, "state": "flow-1"}]

    # The sink reads the consent and verifies its receipt with the JWKS, over HTTP.
    consent = world["sink_api"].get(f"{base}/api/v1/consents/{consent_id}", timeout=10).json()
    assert consent["status"] == "active"
    jwks = requests.get(f"{base}/.well-known/jwks.json", timeout=10).json()
    receipt = _verify(consent["receipts"][0]["jws"], jwks, typ="consent-receipt+jwt")
    assert receipt["omadata"]["consent_id"] == consent_id
    assert receipt["omadata"]["notice_sha256"] == notice_sha256
    assert receipt["language"] == "fi"

    # The resident withdraws, in one step.
    mine = browser.get(f"{base}/my/consents/{consent_id}", timeout=10)
    _post(browser, f"{base}/my/consents/{consent_id}/withdraw", mine.url, mine.text)
    assert Consent.objects.get(pk=consent_id).status == "withdrawn"

    # Both services were told, with notifications they verified themselves.
    for service, hooks in ((world["source"], "source_hooks"), (world["sink"], "sink_hooks")):
        receiver = world[hooks]
        receiver.trust(jwks=requests.get(f"{base}/.well-known/jwks.json", timeout=10).json(),
                       audience=str(service.id))  # fmt: skip
        wait_for(lambda r=receiver: len(r.requests) >= 2)
        events = []
        for received in receiver.requests:
            claims = _verify(
                received.body.decode(), jwks, typ="notification+jwt", aud=str(service.id)
            )
            events.append(claims["event"])
            assert claims["data"]["consent_id"] == consent_id
        assert events == ["consent.granted", "consent.withdrawn"]


def _verify(token: str, jwks: dict, *, typ: str, aud: str | None = None) -> dict:
    header = jwt.get_unverified_header(token)
    assert header["typ"] == typ
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    if aud is None:
        return jwt.decode(token, key=key, algorithms=["ES256"], options={"verify_aud": False})
    return jwt.decode(token, key=key, algorithms=["ES256"], audience=aud)
