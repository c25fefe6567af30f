"""The cities' journeys in a real Chromium, in Finnish, Swedish and English.

A smartwatch joined to the city's records in one consent, and a history brought
along when moving from Helsinki to Espoo: each walked from the demo service's
page through Omadata's pages and the sources' link pages and back, with axe on
every page. The browser's locale chooses the language of the demo's pages and
of Omadata's alike.

Each language walks the whole journey, its transfer too. The transfer is not
what costs: the demo's sink asks for it when the resident comes back, and the
relay runs at once in the live server's process (`deliver_in_process`); a fresh
database and demo seed take a fraction of a second. What costs is axe, a few
tenths of a second a page, and it must see every page in every language. So no
walk shares state with another, and each language fails on its own.

With OMADATA_SCREENSHOTS set to a folder, the English walks save their key
pages there as PNG (`make screenshots` writes docs/img/); without it nothing is
written.
"""

import os
import re
from pathlib import Path

import pytest
from django.utils import translation

from demo import pages
from tests.docs.examples import DOCS
from tests.servers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"fi": "fi-FI", "sv": "sv-FI", "en": "en-GB"}
# Wide enough for the consent screen's text column, narrow enough for small images.
VIEWPORT = {"width": 1000, "height": 800}


@pytest.fixture(params=list(LOCALES))
def lang(request) -> str:
    return request.param


@pytest.fixture
def tab(browser, lang):
    """A page in a browser whose language is `lang`: Accept-Language and navigator alike."""
    context = browser.new_context(locale=LOCALES[lang], viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def shoot(lang):
    """Save the page as `<name>.png` in OMADATA_SCREENSHOTS, from the English walks only."""
    folder = os.environ.get("OMADATA_SCREENSHOTS")

    def shot(page, name: str) -> None:
        if folder and lang == "en":
            target = Path(folder)
            if not target.is_absolute():
                target = DOCS.parent / target
            target.mkdir(parents=True, exist_ok=True)
            # The whole height, but the viewport's width: the demo's tables of tokens and
            # keys run far to the right.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(
                path=target / f"{name}.png", full_page=True, animations="disabled",
                clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
            )  # fmt: skip

    return shot


def operator_text(lang: str, message: str, **values: str) -> str:
    """What Omadata's pages say in `lang`: the catalogue's translation, filled in."""
    with translation.override(lang):
        return translation.gettext(message) % values if values else translation.gettext(message)


def log_in(page, world, lang: str) -> None:
    page.get_by_label(operator_text(lang, "User name")).fill(world.seeded["resident"]["username"])
    page.get_by_label(operator_text(lang, "Password")).fill(world.seeded["resident"]["password"])
    page.get_by_role("button", name=operator_text(lang, "Log in")).click()


def link_button(page, lang: str, service):
    source = service.localized("name", lang)
    return page.get_by_role(
        "button", name=operator_text(lang, "Link my account at %(source)s", source=source)
    )


def step(lang: str, service, state: str) -> str:
    """A line of the screen's list of the sources to link: the source, and its state."""
    return f"{service.localized('name', lang)}: {operator_text(lang, state)}"


def link_at_the_source(page, lang: str, axe) -> None:
    """On a demo source's link page, as its signed-in owner: check the page, press Link."""
    page.get_by_role("button", name=pages.t("source.link_button", lang), exact=True).wait_for()
    assert page.locator("html").get_attribute("lang") == lang
    assert axe(page) == []
    page.get_by_role("button", name=pages.t("source.link_button", lang), exact=True).click()


def linked(page, lang: str, service) -> None:
    """Back on the consent screen, which says the link was made."""
    said = operator_text(lang, "Your account at %(service)s is linked.",
                         service=service.localized("name", lang))  # fmt: skip
    page.get_by_text(said).wait_for()


def approve(page, lang: str) -> None:
    page.get_by_role("button", name=operator_text(lang, "Approve"), exact=True).click()


def consent_page(page, world, lang: str, axe, sink) -> None:
    """My consents, then the consent of `sink`: each accessible, listing the consent."""
    page.goto(f"{world.operator}/my/consents")
    assert axe(page) == []
    page.get_by_role("link", name=sink.localized("name", lang)).click()
    page.get_by_role("heading", level=1, name=sink.localized("name", lang)).wait_for()
    assert axe(page) == []


def test_the_watch_and_the_city_records_are_linked_in_turn_and_arrive_joined_per_day(
    tab, lang, demo_world, axe, shoot
):
    world, watch, city = demo_world, demo_world.wearable, demo_world.sports
    tab.goto(f"{world.url}/wellbeing/")
    assert tab.locator("html").get_attribute("lang") == lang
    assert axe(tab) == []
    tab.get_by_role("button", name=pages.t("wellbeing.join", lang)).click()

    tab.get_by_label(operator_text(lang, "Password")).wait_for()
    assert axe(tab) == []
    log_in(tab, world, lang)

    # The screen asks for the watch first; the city's records wait their turn.
    link_button(tab, lang, watch).wait_for()
    assert link_button(tab, lang, city).count() == 0
    assert tab.get_by_role("button", name=operator_text(lang, "Approve"), exact=True).count() == 0
    steps = tab.locator("ol.link-steps li")
    assert steps.all_inner_texts() == [step(lang, watch, "not linked yet"),
                                       step(lang, city, "not linked yet")]  # fmt: skip
    assert axe(tab) == []
    shoot(tab, "wellbeing-consent-link")
    link_button(tab, lang, watch).click()
    link_at_the_source(tab, lang, axe)

    linked(tab, lang, watch)
    assert steps.all_inner_texts() == [step(lang, watch, "linked"),
                                       step(lang, city, "not linked yet")]  # fmt: skip
    assert axe(tab) == []
    link_button(tab, lang, city).click()
    link_at_the_source(tab, lang, axe)

    linked(tab, lang, city)
    assert link_button(tab, lang, watch).count() == link_button(tab, lang, city).count() == 0
    assert axe(tab) == []
    shoot(tab, "wellbeing-consent")
    approve(tab, lang)

    tab.wait_for_url(f"{world.url}/wellbeing/?answer=approved*")
    parts = wait_for(lambda: len(world.store.deliveries()) == 2 and world.store.deliveries())
    [transfer] = {part["transfer_id"] for part in parts}
    tab.reload()
    days = tab.locator("table").first
    received = pages.t("wellbeing.days.parts", lang).format(transfer=transfer, received=2, parts=2)
    assert tab.get_by_role("heading", name=f"{pages.t('wellbeing.days', lang)} {received}").count()
    rows = days.locator("tbody tr")
    assert rows.count() == 7
    # Each day has its steps from the watch and its swims and gym visits from the city.
    for cells in (rows.nth(n).locator("td").all_inner_texts() for n in range(7)):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d+ [01] [01]", " ".join(cells)), cells
    assert axe(tab) == []
    shoot(tab, "wellbeing-days")

    consent_page(tab, world, lang, axe, world.wellbeing)
    shoot(tab, "wellbeing-my-consent")


def test_a_newcomer_brings_her_history_from_helsinki_and_the_page_names_the_city(
    tab, lang, demo_world, axe, shoot
):
    world, helsinki = demo_world, demo_world.helsinki
    tab.goto(f"{world.url}/newcomer/")
    assert tab.locator("html").get_attribute("lang") == lang
    assert axe(tab) == []
    tab.get_by_role("button", name=pages.t("espoo-newcomer.join", lang)).click()

    tab.get_by_label(operator_text(lang, "Password")).wait_for()
    log_in(tab, world, lang)
    link_button(tab, lang, helsinki).wait_for()
    once = operator_text(lang, "once")
    often = operator_text(lang, "How often the data moves: %(often)s.", often=once)
    assert tab.get_by_text(often).count() == 1
    assert axe(tab) == []
    link_button(tab, lang, helsinki).click()
    link_at_the_source(tab, lang, axe)

    linked(tab, lang, helsinki)
    assert axe(tab) == []
    shoot(tab, "newcomer-consent")
    approve(tab, lang)

    tab.wait_for_url(f"{world.url}/newcomer/?answer=approved*")
    wait_for(lambda: len(world.store.deliveries()) == 1)
    tab.reload()
    came_from = pages.t("espoo-newcomer.from", lang).format(
        city=helsinki.organisation.name, service=helsinki.localized("name", lang)
    )
    tab.get_by_role("heading", level=2, name=came_from).wait_for()
    assert tab.get_by_role("cell", name="Kallio").count() >= 1
    assert axe(tab) == []
    shoot(tab, "newcomer-history")

    consent_page(tab, world, lang, axe, world.newcomer)
