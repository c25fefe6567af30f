"""A link started by one resident and finished in someone else's browser is not made.

Two browsers, each with its own cookies: the attacker's, signed in to Omadata as
Eero, and the victim's, signed in at the Askel watch (everyone who opens the demo
watch is its owner). The attacker starts linking and sends the Askel page's
address to the victim, who presses Link there.
"""

import re

import pytest

from common.errors import Conflict
from consent import services
from consent.models import ConsentRequest, Receipt, ServiceLink
from relay.models import Transfer
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOT_MADE = "The account link was not made"


def _log_in(page, username: str, password: str) -> None:
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("victim_signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_a_link_finished_in_the_victims_browser_is_not_made(
    demo_world, contexts, eero, axe, victim_signed_in
):
    attacker, victim = contexts(), contexts()
    # The attacker joins the programme as himself and starts linking the watch.
    attacker.goto(f"{demo_world.url}/wellbeing/")
    attacker.get_by_role("button", name=re.compile("Join the exercise programme")).click()
    _log_in(attacker, "eero", PASSWORD)
    consent_screen = attacker.url
    attacker.get_by_role("button", name=re.compile("Link my account")).click()
    attacker.get_by_text("You are signed in to Askel as").wait_for()
    link_page = attacker.url  # what he sends the victim

    if victim_signed_in:
        victim.goto(f"{demo_world.operator}/accounts/login/")
        _log_in(victim, "aino", demo_world.seeded["resident"]["password"])
        victim.get_by_role("link", name="My consents").wait_for()
    victim.goto(link_page)
    victim.get_by_role("button", name="Link", exact=True).click()
    victim.wait_for_url(f"{demo_world.operator}/**")

    links = ServiceLink.objects.filter(resident=eero, service=demo_world.wearable)
    assert not links.filter(status=ServiceLink.Status.ACTIVE).exists()
    assert not Receipt.objects.filter(event="link.created", link__resident=eero).exists()
    victim.get_by_role("heading", name=NOT_MADE).wait_for()
    assert "Nothing was linked" in victim.get_by_role("main").inner_text()
    assert axe(victim) == []

    # The attacker's consent cannot be given over the victim's watch, so nothing moves.
    attacker.goto(consent_screen)
    attacker.get_by_role("button", name=re.compile("Link my account")).wait_for()
    assert attacker.get_by_role("button", name="Approve").count() == 0
    with pytest.raises(Conflict) as raised:
        services.consent_grant(
            request=ConsentRequest.objects.get(), resident=eero, language="en", notice_text="n"
        )
    assert raised.value.code == "link_required"
    assert not Transfer.objects.exists()
    assert demo_world.store.deliveries() == []


@pytest.mark.parametrize(("locale", "lang"), [("fi-FI", "fi"), ("sv-FI", "sv"), ("en-GB", "en")])
def test_the_link_not_made_page_speaks_the_residents_language(
    browser, live_server, axe, locale, lang
):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)

    page.goto(f"{live_server.url}/consent/links/return?code=not-a-code")

    assert page.locator("html").get_attribute("lang") == lang
    title = {"fi": "Tiliä ei yhdistetty", "sv": "Kontot kopplades inte", "en": NOT_MADE}[lang]
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert axe(page) == []
    context.close()
