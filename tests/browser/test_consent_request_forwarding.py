"""A consent request answered in someone else's browser is attributed to no one at the sink.

Two browsers, each with its own cookies: the requester's, who joins the exercise programme at
the demo's wellbeing service, and the victim's, who signs in to Omadata as Aino. Instead of
answering, the requester sends the victim the address Omadata showed him; she links her watch
and approves. The sink must not attach her consent, nor her steps, to his account.
"""

import re

import pytest

from consent.models import Consent
from relay.models import Transfer
from relay.services import transfer_schedule_due
from tests.servers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOTHING = "Nothing was attached to an account"
DELIVERED = re.compile(r"\d+ days, \d+ steps")


def _log_in(page, username: str, password: str) -> None:
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def _main_text(page, url: str) -> str:
    page.goto(url)
    return page.get_by_role("main").inner_text()


@pytest.mark.parametrize(
    "victim_at_the_sink", [False, True], ids=["new-to-the-sink", "with-an-account-there"]
)
def test_a_request_answered_in_another_browser_is_not_attributed_to_its_requester(
    demo_world, contexts, axe, victim_at_the_sink
):
    requester, victim = contexts(), contexts()
    sink_page = f"{demo_world.url}/wellbeing/"
    account = re.search(r"You are participant (\S+) here", _main_text(requester, sink_page))[1]
    requester.get_by_role("button", name=re.compile("Join the exercise programme")).click()
    requester.wait_for_url(f"{demo_world.operator}/**")
    forwarded = requester.url  # Omadata's address for his request: what he sends the victim

    if victim_at_the_sink:
        victim.goto(sink_page)
    victim.goto(forwarded)
    _log_in(victim, "aino", demo_world.seeded["resident"]["password"])
    for _source in ("the watch", "the city's sports services"):
        victim.get_by_role("button", name=re.compile("Link my account")).click()
        victim.get_by_role("button", name="Link", exact=True).click()
    notice = victim.locator(".notice").inner_text()
    victim.get_by_role("button", name="Approve").click()
    victim.wait_for_url(f"{demo_world.url}/wellbeing/**")

    # She did approve, in Omadata; the sink's answer to her browser attaches nothing.
    consent = Consent.objects.get()
    assert consent.resident.username == "aino"
    victim.get_by_role("heading", name=NOTHING).wait_for()
    assert "My consents" in victim.get_by_role("main").inner_text()  # where to withdraw it
    assert axe(victim) == []
    assert not Transfer.objects.exists()  # the sink asked for no transfer under it
    # The address she came back to, sent on to the requester, is spent: it came back once.
    requester.goto(victim.url)
    requester.get_by_role("heading", name=NOTHING).wait_for()

    # Omadata's scheduler relays her steps under her consent all the same: they reach the sink…
    assert transfer_schedule_due() == 1
    delivery, _other_part = wait_for(
        lambda: len(demo_world.store.deliveries()) == 2 and demo_world.store.deliveries()
    )
    assert Transfer.objects.get().scheduled
    # …and show on no one's page there, his least of all.
    for browser in (requester, victim):
        page = _main_text(browser, sink_page)
        assert str(consent.id) not in page
        assert delivery["idempotency_key"] not in page
        assert not DELIVERED.search(page)
    assert demo_world.store.consents() == []
    # Omadata's screen had told her whose account she was joining.
    assert f"participant {account}" in notice
