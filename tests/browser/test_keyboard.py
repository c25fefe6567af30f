"""The resident approves, withdraws and closes with the keyboard alone, in a real Chromium.

No mouse: Tab and Shift+Tab move the focus, Enter and Space press buttons. Each step checks
where the focus is, that it shows, and that the controls come in the order they are read.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from consent import services as consent_services
from consent.models import Consent, ServiceLink
from tests.factories import PASSWORD, register_service, sink_spec, source_spec
from tests.peers import BrowserFacingService

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The focused element, as a test reads it: its tag, id and accessible text.
FOCUSED = """() => {
  const e = document.activeElement;
  return [e.tagName.toLowerCase(), e.id, (e.innerText || e.value || '').trim()].join('|');
}"""
# A visible focus indicator: an outline that is drawn, the site's :focus-visible style.
FOCUS_SHOWN = """() => {
  const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
}"""
MOST_TABS = 60  # more stops than any of these pages has


@pytest.fixture
def sink_peer(live_operator, loopback_allowed):
    """The sink's return page on 127.0.0.1: where the browser goes after answering."""
    server = BrowserFacingService(operator_url=live_operator).start()
    yield server
    server.stop()


@pytest.fixture
def consent_request(sink_peer, source_provider, sink_provider, data_types, staff, aino):
    """Wellbeing asks Aino for steps from the watch; her link to the watch is made already."""
    source = register_service(source_provider, source_spec(), approve_by=staff)
    sink_role = {"delivery_url": f"{sink_peer.url}/deliver", "data_types": ["wellbeing.steps"]}
    sink = register_service(sink_provider, sink_spec(sink=sink_role), approve_by=staff)
    ServiceLink.objects.create(resident=aino, service=source, subject="s1", status="active")
    return consent_services.consent_request_create(
        sink=sink,
        spec={
            "source": source.id, "data_types": ["wellbeing.steps"],
            "purpose": {"fi": "Liikuntaohjelma.", "sv": "Motionsprogram.",
                        "en": "The exercise programme."},
            "purpose_category": "wellbeing",
            "valid_until": timezone.now() + timedelta(days=30),
            "frequency": {"kind": "one_off"},
            "return_url": f"{sink_peer.url}/back", "state": "st-1",
        },
    )  # fmt: skip


@pytest.fixture
def consent(consent_request, aino):
    return consent_services.consent_grant(
        request=consent_request, resident=aino, language="en", notice_text="n"
    )


def focused(page) -> str:
    return page.evaluate(FOCUSED)


def tab_to(page, wanted: str, *, key: str = "Tab") -> list[str]:
    """Press `key` until the focused element's description starts with `wanted`.

    Returns every stop on the way, the last being the wanted one, so that a test
    can read the order; fails if the element is never reached.
    """
    stops = []
    for _ in range(MOST_TABS):
        page.keyboard.press(key)
        stops.append(focused(page))
        if stops[-1].startswith(wanted):
            assert page.evaluate(FOCUS_SHOWN), f"no visible focus on {stops[-1]}"
            return stops
    raise AssertionError(f"{wanted} not reached by {key}: {stops}")


def log_in(page, username: str = "aino") -> None:
    """Log in on the login page by keyboard: the user name, Tab, the password, Enter."""
    tab_to(page, "input|id_username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert focused(page).startswith("input|id_password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_approving_by_keyboard_alone(page, live_server, sink_peer, consent_request):
    page.goto(f"{live_server.url}/consent/requests/{consent_request.id}")
    log_in(page)
    page.locator(".notice").wait_for()

    tab_to(page, "button||Approve")
    page.keyboard.press("Tab")
    assert focused(page) == "button||Refuse"  # read left to right: Approve, then Refuse
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "button||Approve"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{sink_peer.url}/back*")

    consent = Consent.objects.get()
    assert sink_peer.returns == [{"consent_id": str(consent.id), "state": "st-1"}]


def test_withdrawing_from_my_consents_by_keyboard_alone(page, live_server, consent):
    page.goto(f"{live_server.url}/my/consents")
    log_in(page)
    page.get_by_role("heading", name="My consents").wait_for()

    stops = tab_to(page, "button||Withdraw")
    # The consent's own page comes first, then its Withdraw button, as they are read.
    assert stops[-2].startswith("a||Wellbeing")
    page.keyboard.press("Enter")
    page.get_by_role("status").first.wait_for()

    consent.refresh_from_db()
    assert consent.status == "withdrawn"


def test_withdrawing_from_the_consent_page_by_keyboard_alone(page, live_server, consent):
    page.goto(f"{live_server.url}/my/consents/{consent.id}")
    log_in(page)
    page.get_by_role("heading", name="Wellbeing").wait_for()

    tab_to(page, "button||Withdraw")
    page.keyboard.press("Tab")
    assert focused(page) == "button||Pause"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    page.get_by_role("status").first.wait_for()

    consent.refresh_from_db()
    assert consent.status == "withdrawn"


def test_closing_the_account_by_keyboard_alone(page, live_server, consent, aino):
    page.goto(f"{live_server.url}/my/account/close")
    log_in(page)
    page.get_by_role("heading", name="Close my account", exact=True).wait_for()

    tab_to(page, "input|confirm")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert focused(page) == "button||Close my account"
    page.keyboard.press("Enter")
    page.get_by_role("status").first.wait_for()

    consent.refresh_from_db()
    assert consent.status == "withdrawn"
    assert not get_user_model().objects.get(pk=aino.pk).is_active
