"""The whole trip over two sources: one consent, two links, one transfer in two parts.

Against the real operator: it runs once the operator relays a consent over several
sources in parts (issue 11); before that, the wellbeing service asks for the watch alone.
"""

import re

import pytest

from consent.models import Consent
from relay import models as relay_models
from tests.demo.world import join_and_approve
from tests.servers import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not hasattr(relay_models, "TransferPart"),
        reason="this operator relays no transfer in parts yet",
    ),
]


def test_one_consent_over_the_watch_and_the_city_brings_both_joined_per_day(demo_world):
    approved = join_and_approve(demo_world, "/wellbeing/")
    browser, back = approved.browser, approved.back

    assert "Askel smartwatch" in approved.screen
    assert "Espoo sports services" in approved.screen
    assert back.url.startswith(f"{demo_world.url}/wellbeing/?answer=approved")
    consent = Consent.objects.get()
    assert [part.service for part in consent.sources.order_by("position")] == [
        demo_world.wearable,
        demo_world.sports,
    ]
    parts = wait_for(
        lambda: len(demo_world.store.deliveries()) == 2 and demo_world.store.deliveries()
    )
    [transfer_id] = {part["transfer_id"] for part in parts}
    assert sorted(part["idempotency_key"] for part in parts) == [
        f"{transfer_id}.1",
        f"{transfer_id}.2",
    ]
    page = browser.get(f"{demo_world.url}/wellbeing/", timeout=10).text
    assert f"transfer {transfer_id}: 2 of 2 parts received" in page
    assert "Askel Wearables Oy (wearable)" in page
    assert "Espoon kaupunki (espoo-sports)" in page
    # Seven days, each with its steps from the watch and its visits from the city.
    days = re.findall(
        r"<tr><td>\d{4}-\d\d-\d\d</td><td>\d+</td><td>[01]</td><td>[01]</td></tr>", page
    )
    assert len(days) == 7
