"""A resident answers a consent request in a real Chromium, with real services on loopback."""

from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services as consent_services
from consent.models import Consent
from registry import services as registry_services
from tests.factories import PASSWORD, register_service, sink_spec, source_spec
from tests.peers import BrowserFacingService

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def peers(live_operator, loopback_allowed):
    """The source's link page and the sink's return page, on 127.0.0.1."""
    source = BrowserFacingService(operator_url=live_operator).start()
    sink = BrowserFacingService(operator_url=live_operator).start()
    yield source, sink
    source.stop()
    sink.stop()


@pytest.fixture
def consent_request(peers, source_provider, sink_provider, data_types, staff):
    source_peer, sink_peer = peers
    source_role = {
        "fetch_url": f"{source_peer.url}/data", "link_url": f"{source_peer.url}/link",
        "data_types": ["wellbeing.steps", "wellbeing.heart_rate"],
    }  # fmt: skip
    sink_role = {"delivery_url": f"{sink_peer.url}/deliver", "data_types": ["wellbeing.steps"]}
    source = register_service(source_provider, source_spec(source=source_role), approve_by=staff)
    sink = register_service(sink_provider, sink_spec(sink=sink_role), approve_by=staff)
    application, secret = registry_services.credential_create(provider=source_provider, name="t")
    source_peer.act_as(
        service_id=str(source.id), client_id=application.client_id, client_secret=secret
    )
    return consent_services.consent_request_create(
        sink=sink,
        spec={
            "source": source.id, "data_types": ["wellbeing.steps"],
            "purpose": {"fi": "Liikuntaohjelma.", "sv": "Motionsprogram.",
                        "en": "The exercise programme."},
            "purpose_category": "wellbeing",
            "valid_until": timezone.now() + timedelta(days=30),
            "frequency": {"kind": "one_off"},
            "return_url": f"{sink_peer.url}/back", "state": "st-42",
        },
    )  # fmt: skip


def _log_in(page, username="aino"):
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_resident_links_approves_and_returns_to_the_sink(
    page, live_server, peers, consent_request, aino, axe
):
    source_peer, sink_peer = peers
    page.goto(f"{live_server.url}/consent/requests/{consent_request.id}")
    _log_in(page)

    page.get_by_role("button", name="Link my account at Askel watch").click()
    page.get_by_text("You are signed in at the test source").wait_for()
    page.get_by_role("button", name="Link", exact=True).click()
    page.get_by_role("button", name="Approve").wait_for()
    assert source_peer.errors == []
    assert page.get_by_role("status").inner_text() == "Your account at Askel watch is linked."
    assert axe(page) == []
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{sink_peer.url}/back*")

    consent = Consent.objects.get()
    assert sink_peer.returns == [{"consent_id": str(consent.id), "state": "st-42"}]
    assert consent.language == "en"


def test_approve_and_refuse_carry_equal_weight(page, live_server, peers, consent_request, aino):
    from consent.models import ConsentRequest, ServiceLink

    [part] = consent_request.source_parts()
    ServiceLink.objects.create(resident=aino, service=part.service, subject="s1", status="active")
    page.goto(f"{live_server.url}/consent/requests/{consent_request.id}")
    _log_in(page)

    approve = page.get_by_role("button", name="Approve")
    refuse = page.get_by_role("button", name="Refuse")
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).fontSize]"
    assert approve.evaluate(style) == refuse.evaluate(style)
    assert approve.bounding_box()["height"] == refuse.bounding_box()["height"]
    assert ConsentRequest.objects.get().status == "open"


def test_refusing_returns_access_denied_to_the_sink(
    page, live_server, peers, consent_request, aino
):
    _source_peer, sink_peer = peers
    page.goto(f"{live_server.url}/consent/requests/{consent_request.id}")
    _log_in(page)

    page.get_by_role("button", name="Refuse").click()
    page.wait_for_url(f"{sink_peer.url}/back*")

    assert sink_peer.returns == [{"error": "access_denied", "state": "st-42"}]
    assert not Consent.objects.exists()


@pytest.mark.parametrize(("locale", "lang"), [("fi-FI", "fi"), ("sv-FI", "sv"), ("en-GB", "en")])
def test_consent_screen_speaks_the_residents_language(
    browser, live_server, peers, consent_request, aino, locale, lang
):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{live_server.url}/consent/requests/{consent_request.id}")
    page.locator("#id_username").fill("aino")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.stack button[type=submit]").click()

    page.locator(".notice").wait_for()
    assert page.locator("html").get_attribute("lang") == lang
    purpose = {"fi": "Liikuntaohjelma.", "sv": "Motionsprogram.", "en": "The exercise programme."}
    assert purpose[lang] in page.locator(".notice").inner_text()
    context.close()


def test_resident_withdraws_from_my_consents(page, live_server, peers, consent_request, aino):
    from consent.models import ServiceLink

    [part] = consent_request.source_parts()
    ServiceLink.objects.create(resident=aino, service=part.service, subject="s1", status="active")
    consent = consent_services.consent_grant(
        request=consent_request, resident=aino, language="en", notice_text="n"
    )
    page.goto(f"{live_server.url}/my/consents")
    _log_in(page)

    page.get_by_role("button", name="Withdraw").click()

    assert page.get_by_role("status").first.inner_text().startswith("The consent is withdrawn")
    consent.refresh_from_db()
    assert consent.status == "withdrawn"


def test_the_switcher_keeps_a_language_over_the_browsers(page, live_server, peers, aino):
    page.goto(f"{live_server.url}/my/consents")
    _log_in(page)

    page.get_by_role("button", name="svenska").click()
    page.goto(f"{live_server.url}/my/consents")

    assert page.locator("html").get_attribute("lang") == "sv"
