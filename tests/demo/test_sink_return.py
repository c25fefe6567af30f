"""The wellbeing sink takes an answer only in the browser that asked, for the request it asked.

Whoever has the address of a consent request can send it on, and the answer then comes back
to the sink in the browser of whoever approved it, with the requester's state: so the sink
attaches a consent to an account only when its state comes back in that account's browser,
and the operator's record says the consent answers that very request.
"""

import pytest
import requests
from django.contrib.auth import get_user_model

from consent import services
from consent.models import Consent, ConsentRequest
from relay.models import Transfer
from tests.demo.world import form_field, get, link_at, sink_browser

pytestmark = pytest.mark.django_db(transaction=True)
TITLE = {
    "en": "Nothing was attached to an account",
    "fi": "Mitään ei liitetty tiliin",
    "sv": "Ingenting kopplades till ett konto",
}


def join(world, participant) -> ConsentRequest:
    """The participant presses Join on the wellbeing page; the request the sink made."""
    form = participant.session.get(f"{world.url}/wellbeing/", timeout=10).text
    joined = participant.session.post(
        f"{world.url}/wellbeing/join", data={"csrf_token": form_field(form, "csrf_token")},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert joined.status_code == 302, joined.text
    return ConsentRequest.objects.get(id=joined.headers["Location"].rsplit("/", 1)[1])


def approve(world, request: ConsentRequest) -> Consent:
    """Aino, linked at each source of the request, approves it in her Omadata session."""
    aino = get_user_model().objects.get(username="aino")
    for source in services.request_sources(request):
        if not services.link_active(resident=aino, service=source):
            link_at(world, aino, source, return_to=f"{world.operator}/my/consents")
    return services.consent_grant(request=request, resident=aino, language="en", notice_text="n")


def back(world, session: requests.Session, request: ConsentRequest, consent: Consent):
    return session.get(
        f"{world.url}/wellbeing/back", params={"state": request.state, "consent_id": consent.id},
        timeout=10,
    )  # fmt: skip


def test_the_request_names_the_account_and_its_state_is_no_one_elses(demo_world, participant):
    request = join(demo_world, participant)

    assert request.subject_reference == participant.account
    assert request.subject_label == f"participant {participant.account}"
    assert len(request.state) >= 32
    assert request.state != join(demo_world, participant).state


@pytest.mark.parametrize("returning", ["no cookie", "another browser's cookie"])
def test_an_answer_that_comes_back_in_another_browser_is_attached_to_no_account(
    demo_world, participant, returning
):
    request = join(demo_world, participant)
    consent = approve(demo_world, request)
    other = requests.Session() if returning == "no cookie" else sink_browser(demo_world).session

    answer = back(demo_world, other, request, consent)

    assert answer.status_code == 403
    assert answer.url.startswith(f"{demo_world.url}/wellbeing/not-attached?reason=other_browser")
    assert f"<h1>{TITLE['en']}</h1>" in answer.text
    assert demo_world.store.consents() == []
    assert not Transfer.objects.exists()
    # The first return spent the state: the address, sent on to the requester, counts no more.
    again = back(demo_world, participant.session, request, consent)
    assert (again.status_code, again.url.split("reason=")[1][:4]) == (400, "used")
    assert demo_world.store.consents() == []
    assert str(consent.id) not in participant.page(demo_world)


def test_a_consent_that_answers_another_request_is_not_attached(demo_world, participant):
    theirs = approve(demo_world, join(demo_world, sink_browser(demo_world)))
    mine = join(demo_world, participant)

    # His own state, in his own browser, with the id of someone else's consent.
    answer = back(demo_world, participant.session, mine, theirs)

    assert answer.status_code == 400
    assert "reason=other_request" in answer.url
    assert demo_world.store.consents() == []
    assert not Transfer.objects.exists()


def test_the_answer_is_attached_in_the_browser_that_asked(demo_world, participant):
    request = join(demo_world, participant)
    consent = approve(demo_world, request)

    answer = back(demo_world, participant.session, request, consent)

    assert answer.url.startswith(f"{demo_world.url}/wellbeing/?answer=approved")
    assert f"You approved: consent {consent.id} is active" in answer.text
    assert [(c["id"], c["account"]) for c in demo_world.store.consents()] == [
        (str(consent.id), participant.account)
    ]
    assert Transfer.objects.get().consent_id == consent.id


@pytest.mark.parametrize("lang", ["en", "fi", "sv"])
def test_the_nothing_attached_page_speaks_the_residents_language(demo_world, lang):
    page = get(
        f"{demo_world.url}/wellbeing/not-attached", params={"reason": "other_browser"},
        headers={"Accept-Language": lang},
    )  # fmt: skip

    assert page.status_code == 403
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{TITLE[lang]}</h1>" in page.text
    assert f"{demo_world.operator}/my/consents" in page.text  # where to withdraw it


def test_a_join_that_the_wellbeing_page_did_not_make_starts_nothing(demo_world, participant):
    forged = participant.session.post(
        f"{demo_world.url}/wellbeing/join", data={"csrf_token": "0" * 64},
        allow_redirects=False, timeout=10,
    )  # fmt: skip

    assert forged.status_code == 403
    assert not ConsentRequest.objects.exists()
