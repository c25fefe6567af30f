"""The demo walkthrough in a real Chromium: the pages a newcomer meets first are accessible."""

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_newcomer_joins_links_and_approves_on_accessible_pages(page, demo_world, axe):
    page.goto(f"{demo_world.url}/wellbeing/")
    assert axe(page) == []
    page.get_by_role("button", name=re.compile("Join the exercise programme")).click()

    page.get_by_label("User name").fill("aino")
    page.get_by_label("Password").fill(demo_world.seeded["resident"]["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name=re.compile("Link my account")).click()

    page.get_by_text("You are signed in to Askel as").wait_for()
    assert axe(page) == []
    page.get_by_role("button", name="Link", exact=True).click()
    page.get_by_text("Your account at Askel smartwatch is linked.").wait_for()
    page.get_by_role("button", name=re.compile("Link my account")).click()
    page.get_by_text("You are signed in to Espoo sports services as").wait_for()
    assert axe(page) == []
    page.get_by_role("button", name="Link", exact=True).click()
    page.get_by_text("Your account at Espoo sports services is linked.").wait_for()
    page.get_by_role("button", name="Approve").click()

    page.wait_for_url(f"{demo_world.url}/wellbeing/?answer=approved*")
    assert "You approved" in page.get_by_role("status").inner_text()
    assert axe(page) == []
