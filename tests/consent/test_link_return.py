"""A link becomes active only when the browser of the session that started it comes back.

The source confirms a link token over its back channel and gets a single-use
code, which it hands the browser it sends back to Omadata. Anyone who holds a
link token can read its claims, but only that browser holds the code.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from common.errors import Conflict
from consent import services
from consent.models import LinkToken, Receipt, ServiceLink
from registry import services as registry_services
from tests.factories import request_spec

pytestmark = pytest.mark.django_db
BACK = "https://x/back"


def created_receipts() -> int:
    return Receipt.objects.filter(event=Receipt.Event.LINK_CREATED).count()


@pytest.fixture
def started(aino, wearable):
    """Aino pressed Link on the consent screen: her session holds the attempt."""
    return services.link_start(resident=aino, service=wearable, return_to=BACK)


@pytest.fixture
def confirmed(wearable, started):
    """The watch confirmed Aino's link token with its own reference for her."""
    return services.link_confirm(service=wearable, token=started.token, reference="owner-1")


def test_a_confirmed_link_is_not_active_until_the_browser_returns(aino, consent_request, confirmed):
    link = ServiceLink.objects.get()

    assert link.status == ServiceLink.Status.PENDING
    assert created_receipts() == 0
    with pytest.raises(Conflict) as raised:
        services.consent_grant(
            request=consent_request, resident=aino, language="fi", notice_text=""
        )
    assert raised.value.code == "link_required"


def test_the_return_of_the_session_that_started_it_makes_the_link(aino, started, confirmed):
    attempt = services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    link = ServiceLink.objects.get()
    assert link.status == ServiceLink.Status.ACTIVE
    assert link.service_reference == "owner-1"
    assert Receipt.objects.get(event=Receipt.Event.LINK_CREATED).link == link
    assert attempt.return_to == BACK


def test_only_a_hash_of_the_code_is_kept(confirmed):
    stored = LinkToken.objects.get()

    assert stored.code_sha256
    assert confirmed.code not in {stored.code_sha256, stored.jti}


def _other_resident(code, attempt, aino, eero):
    return {"resident": eero, "code": code, "started": {attempt}}


def _other_session(code, attempt, aino, eero):
    return {"resident": aino, "code": code, "started": set()}


def _not_signed_in(code, attempt, aino, eero):
    return {"resident": None, "code": code, "started": set()}


@pytest.mark.parametrize(
    ("returning", "reason"),
    [
        (_other_resident, "other_resident"),
        (_other_session, "other_session"),
        (_not_signed_in, "other_session"),
    ],
)
def test_a_return_from_elsewhere_makes_nothing_and_spends_the_code(
    aino, eero, started, confirmed, returning, reason
):
    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(**returning(confirmed.code, started.attempt, aino, eero))

    assert raised.value.reason == reason
    assert raised.value.attempt == started.attempt
    assert not ServiceLink.objects.filter(status=ServiceLink.Status.ACTIVE).exists()
    assert created_receipts() == 0
    # Had the attacker learnt the code since, his own session could not use it now.
    with pytest.raises(services.LinkNotMade) as again:
        services.link_return(resident=aino, code=confirmed.code, started={started.attempt})
    assert again.value.reason == "code_used"
    assert created_receipts() == 0


@pytest.mark.parametrize("code", ["", "not-the-code", "x" * 2000])
def test_a_wrong_code_makes_nothing_and_spends_nothing(aino, started, confirmed, code):
    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(resident=aino, code=code, started={started.attempt})

    assert (raised.value.reason, raised.value.attempt) == ("code_unknown", None)
    assert created_receipts() == 0
    services.link_return(resident=aino, code=confirmed.code, started={started.attempt})
    assert ServiceLink.objects.get().status == ServiceLink.Status.ACTIVE


def test_an_expired_code_makes_nothing(aino, started, confirmed, settings):
    later = timezone.now() + timedelta(seconds=settings.OMADATA_LINK_RETURN_SECONDS + 1)

    with time_machine.travel(later, tick=False), pytest.raises(services.LinkNotMade) as raised:
        services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    assert raised.value.reason == "code_expired"
    assert ServiceLink.objects.get().status == ServiceLink.Status.ABANDONED
    assert created_receipts() == 0


def test_a_second_return_makes_nothing_more(aino, started, confirmed):
    services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    assert raised.value.reason == "code_used"
    assert ServiceLink.objects.get().status == ServiceLink.Status.ACTIVE
    assert created_receipts() == 1


@pytest.mark.parametrize("meanwhile", ["started again", "linked again", "linked and removed"])
def test_a_return_after_the_link_changed_meanwhile_makes_nothing(
    aino, wearable, started, confirmed, meanwhile
):
    again = services.link_start(resident=aino, service=wearable, return_to=BACK)
    if meanwhile != "started again":
        code = services.link_confirm(service=wearable, token=again.token, reference="r2").code
        services.link_return(resident=aino, code=code, started={again.attempt})
    if meanwhile == "linked and removed":
        services.link_remove(link=ServiceLink.objects.get(status=ServiceLink.Status.ACTIVE))
    before = created_receipts()

    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(
            resident=aino, code=confirmed.code, started={started.attempt, again.attempt}
        )

    assert raised.value.reason == "link_gone"
    assert ServiceLink.objects.get(pk=confirmed.link.pk).status == ServiceLink.Status.ABANDONED
    assert created_receipts() == before


def test_a_return_after_a_grant_linked_the_sink_meanwhile_makes_nothing(
    aino, wearable, wellbeing, linked
):
    """The sink is a source too; the resident's grant to it linked her there meanwhile."""
    wellbeing.is_source = True
    wellbeing.link_url = "https://sink.example.fi/link"
    wellbeing.save()
    started = services.link_start(resident=aino, service=wellbeing, return_to=BACK)
    confirmed = services.link_confirm(service=wellbeing, token=started.token, reference="r")
    request = services.consent_request_create(sink=wellbeing, spec=request_spec(wearable))
    services.consent_grant(request=request, resident=aino, language="fi", notice_text="")

    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    assert raised.value.reason == "link_gone"
    at_sink = ServiceLink.objects.get(service=wellbeing, status=ServiceLink.Status.ACTIVE)
    assert at_sink.subject != confirmed.link.subject  # never the one the service confirmed
    assert at_sink.service_reference == "espoo-user-17"


def test_a_return_after_the_service_was_suspended_makes_nothing(
    aino, wearable, staff, started, confirmed
):
    registry_services.service_suspend(service=wearable, actor=staff)

    with pytest.raises(services.LinkNotMade) as raised:
        services.link_return(resident=aino, code=confirmed.code, started={started.attempt})

    assert raised.value.reason == "service_unavailable"
    assert created_receipts() == 0


def test_starting_again_never_offers_a_confirmed_subject_again(aino, wearable, started, confirmed):
    again = services.link_start(resident=aino, service=wearable, return_to=BACK)

    first, second = ServiceLink.objects.order_by("created_at")
    assert first.status == ServiceLink.Status.ABANDONED
    assert second.status == ServiceLink.Status.PENDING
    assert first.subject != second.subject
    assert again.attempt != started.attempt


def test_a_token_of_an_attempt_started_again_is_refused(aino, wearable, started):
    services.link_start(resident=aino, service=wearable, return_to=BACK)

    with pytest.raises(ValidationError) as raised:
        services.link_confirm(service=wearable, token=started.token, reference="r")

    assert raised.value.error_dict["token"][0].code == "token_replaced"


# -- through the pages ----------------------------------------------------------


def _start_on_the_screen(client, consent_request) -> str:
    """Press Link on the consent screen; return the link token the source is sent."""
    response = client.post(f"/consent/requests/{consent_request.id}/link")
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["link_token"][0]


def _come_back(client, code: str):
    return client.get("/consent/links/return", {"code": code}, HTTP_ACCEPT_LANGUAGE="en")


def test_coming_back_in_the_same_browser_links_and_goes_on_to_the_consent_screen(
    client, aino, wearable, consent_request
):
    client.force_login(aino)
    token = _start_on_the_screen(client, consent_request)
    code = services.link_confirm(service=wearable, token=token, reference="owner-1").code

    response = _come_back(client, code)

    assert response.status_code == 302
    assert response["Location"].endswith(f"/consent/requests/{consent_request.id}")
    screen = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your account at Askel watch is linked." in screen
    assert 'value="approve"' in screen
    assert ServiceLink.objects.get().status == ServiceLink.Status.ACTIVE


@pytest.mark.parametrize("signed_in_as", [None, "eero", "aino"])
def test_coming_back_in_another_browser_shows_why_nothing_was_linked(
    client, aino, eero, wearable, consent_request, signed_in_as
):
    from django.test import Client

    client.force_login(aino)
    token = _start_on_the_screen(client, consent_request)
    code = services.link_confirm(service=wearable, token=token, reference="owner-1").code
    elsewhere = Client()
    if signed_in_as:
        elsewhere.force_login({"aino": aino, "eero": eero}[signed_in_as])

    response = _come_back(elsewhere, code)

    page = response.content.decode()
    assert response.status_code == 400
    assert "The account link was not made" in page
    assert "Nothing was linked" in page
    assert ServiceLink.objects.get().status == ServiceLink.Status.ABANDONED
    assert "The account link was not made" in _come_back(client, code).content.decode()
    assert created_receipts() == 0


def test_the_session_forgets_the_attempt_once_it_came_back(client, aino, wearable, consent_request):
    client.force_login(aino)
    token = _start_on_the_screen(client, consent_request)
    attempt = LinkToken.objects.get().jti
    assert attempt in client.session["link_attempts"]
    code = services.link_confirm(service=wearable, token=token, reference="owner-1").code

    _come_back(client, code)

    assert attempt not in client.session["link_attempts"]
