"""The demo world that the docs' examples run against, with a resident's consent in it."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from consent import services
from consent.models import Consent
from tests.demo.world import demo_running, link_at_the_watch


def link_token(world, resident) -> str:
    """A link token for the demo watch, as the operator hands it to the resident's browser."""
    started = services.link_start(
        resident=resident, service=world.wearable, return_to=f"{world.operator}/my/consents"
    )
    return parse_qs(urlsplit(started.url).query)["link_token"][0]


@pytest.fixture
def demo_world(
    live_operator, loopback_allowed, deliver_in_process, settings, tmp_path, monkeypatch
):
    """The demo services, seeded into the live operator, with their state in this test's var/."""
    settings.VAR_DIR = tmp_path / "var"
    with demo_running(operator=live_operator, environment=monkeypatch) as world:
        yield world


@pytest.fixture
def consent(demo_world) -> Consent:
    """Aino links her watch on the demo's page, then lets steps and heart rate move daily.

    The log then holds three receipts: her links to the watch and to the sink, and the grant.
    """
    aino = get_user_model().objects.get(username="aino")
    link_at_the_watch(demo_world, aino, return_to=f"{demo_world.operator}/my/consents")
    request = services.consent_request_create(
        sink=demo_world.wellbeing,
        spec={
            "source": demo_world.wearable.id,
            "data_types": ["wellbeing.steps", "wellbeing.heart_rate"],
            "purpose": {"fi": "Askeleet.", "sv": "Steg.", "en": "Steps."},
            "purpose_category": "wellbeing",
            "valid_until": timezone.now() + timedelta(days=90),
            "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
            "return_url": f"{demo_world.url}/wellbeing/back",
        },
    )
    return services.consent_grant(
        request=request, resident=aino, language="en", notice_text="the notice"
    )
