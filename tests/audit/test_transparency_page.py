"""A service's public transparency page: its registration, algorithms and figures, with
no figure below five shown."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.figures import PublicFigure, consent_figures_public, public_figures
from consent import services as consent_services
from registry import services as registry_services
from relay import services as relay_services
from relay.models import Transfer
from tests.factories import (
    algorithm_spec,
    automated,
    grant_consent,
    link_resident,
    make_user,
    register_service,
    request_consent,
    request_consent_over,
    sink_spec,
)

pytestmark = pytest.mark.django_db

OFTEN = {"kind": "recurring", "limit": 10, "period": "day"}
SMALL = PublicFigure(None, "small")
DERIVABLE = PublicFigure(None, "derivable")


def page(slug: str = "wellbeing") -> str:
    return f"/services/{slug}/transparency"


@pytest.fixture
def wellbeing(sink_provider, data_types, staff):
    """The wellbeing sink, approved, which ranks residents' steps with one algorithm."""
    spec = sink_spec(transparency=automated(), algorithms=[algorithm_spec()])
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def consents(wellbeing, wearable):
    """Makes `count` consents of new residents to the wellbeing sink's request for steps."""
    made = []

    def make(count: int, *, withdrawn: bool = False) -> list:
        for _ in range(count):
            n = len(made)
            resident = make_user(f"resident-{n}")
            link_resident(resident, wearable, reference=f"watch-owner-{n}")
            request = request_consent(sink=wellbeing, source=wearable, frequency=OFTEN)
            consent = grant_consent(request, resident)
            if withdrawn:
                consent = consent_services.consent_withdraw(consent=consent)
            made.append(consent)
        return made[-count:]

    return make


def _deliver(consent, count: int, *, on: date, data_types: list[str] | None = None) -> None:
    """`count` transfers under `consent` (of `data_types`: all), delivered on the day `on`."""
    delivered_at = timezone.make_aware(datetime.combine(on, time(12)))
    for _ in range(count):
        transfer, _new = relay_services.transfer_request(
            consent=consent, organisation=consent.sink.organisation, data_types=data_types
        )
        Transfer.objects.filter(pk=transfer.pk).update(
            status=Transfer.Status.DELIVERED, finished_at=delivered_at
        )


def _months_ago(months: int, today: date | None = None) -> date:
    """The 15th day of the month `months` before today's."""
    first = (today or timezone.localdate()).replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first.replace(day=15)


# -- who may read it ----------------------------------------------------------------------


def test_the_page_needs_no_login(client, wellbeing):
    response = client.get(page())

    assert response.status_code == 200


def test_a_pending_service_has_no_page(client, sink_provider, data_types):
    register_service(sink_provider, sink_spec(slug="wellbeing-beta"))

    assert client.get(page("wellbeing-beta")).status_code == 404


def test_a_suspended_service_has_no_page(client, wellbeing, staff):
    registry_services.service_suspend(service=wellbeing, actor=staff)

    assert client.get(page()).status_code == 404


def test_an_unknown_slug_has_no_page(client, db):
    assert client.get(page("nothing-here")).status_code == 404


def test_the_page_only_reads(client, wellbeing):
    assert client.post(page()).status_code == 405


# -- the registration and the algorithms ------------------------------------------------


def test_the_page_shows_the_registration(client, wellbeing):
    text = client.get(page(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Transparency: Wellbeing" in text
    assert "Espoon kaupunki (0101263-6)" in text
    assert "sink: asks for data" in text
    assert 'href="https://sink.example.fi/privacy"' in text
    assert "https://algoritmit.espoo.fi/hyvinvointi" in text


def test_an_unverified_organisation_is_said_so_in_words(client, wellbeing):
    text = client.get(page(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "not verified" in text


def test_a_verified_organisation_is_said_so_in_words(client, wellbeing):
    wellbeing.organisation.verified = True
    registry_services.organisation_update(organisation=wellbeing.organisation, changed=["verified"])

    text = client.get(page(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "✓ verified organisation" in text
    assert "not verified" not in text


def test_sensitive_data_is_marked(client, wearable):
    text = client.get(page("wearable"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "heart_rate <strong>(sensitive)</strong>" in text
    assert "steps <strong>" not in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fi", ["Aktiivisuustaso", "Ohjaaja tarkistaa", "Ikää, sukupuolta", "Viikon keskim"]),
        ("sv", ["Aktivitetsnivå", "En handledare", "Ålder, kön", "Veckans genomsnittliga"]),
        ("en", ["Activity level", "An instructor", "Age, gender", "The week's average"]),
    ],
)
def test_the_algorithms_are_shown_in_the_readers_language(client, wellbeing, language, expected):
    text = client.get(page(), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert all(part.replace("'", "&#x27;") in text for part in expected), expected
    assert "https://algoritmit.espoo.fi/aktiivisuustaso" in text


def test_a_service_without_algorithms_says_so(client, wearable):
    text = client.get(page("wearable"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "This service has described no algorithms." in text


def test_the_front_page_links_to_each_services_page(client, wellbeing, wearable):
    text = client.get("/").content.decode()

    assert f'href="{page()}"' in text
    assert f'href="{page("wearable")}"' in text


# -- the figures: none below five ----------------------------------------------------


def test_four_active_consents_are_shown_as_fewer_than_five(client, consents):
    consents(4)

    response = client.get(page(), HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["figures"].active == SMALL
    assert "fewer than 5" in response.content.decode()


def test_five_active_consents_are_shown(client, consents):
    consents(5)

    response = client.get(page(), HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["figures"].active == PublicFigure(5)
    assert "<td>5</td>" in response.content.decode()


def test_four_withdrawn_consents_are_not_shown(client, consents):
    consents(4, withdrawn=True)

    assert client.get(page()).context["figures"].withdrawn == SMALL


def test_five_withdrawn_consents_are_shown(client, consents):
    consents(5, withdrawn=True)

    assert client.get(page()).context["figures"].withdrawn == PublicFigure(5)


def test_consents_given_are_hidden_when_they_would_reveal_a_small_figure(client, consents):
    consents(5)
    consents(1, withdrawn=True)

    figures = client.get(page()).context["figures"]

    # Six given less five active would be one withdrawn.
    assert (figures.given, figures.active, figures.withdrawn) == (DERIVABLE, PublicFigure(5), SMALL)


def test_a_source_counts_the_consents_it_is_the_source_of(client, consents):
    consents(5)

    assert client.get(page("wearable")).context["figures"].active == PublicFigure(5)


def test_consents_of_other_services_do_not_count(client, consents, sink_provider, wearable, staff):
    consents(5)
    register_service(sink_provider, sink_spec(slug="other"), approve_by=staff)

    assert client.get(page("other")).context["figures"].active == SMALL


@pytest.mark.parametrize(
    ("given", "active", "withdrawn", "shown"),
    [
        (15, 5, 5, PublicFigure(15)),  # active, withdrawn and the rest all at least five
        (14, 5, 5, DERIVABLE),  # four paused or expired
        (10, 5, 5, DERIVABLE),  # none paused or expired: zero is below five too
        (9, 5, 0, DERIVABLE),
        (4, 4, 0, SMALL),
        (0, 0, 0, SMALL),
    ],
)
def test_consents_given_are_shown_only_when_no_part_is_below_five(given, active, withdrawn, shown):
    figures = consent_figures_public(given=given, active=active, withdrawn=withdrawn)

    assert figures["given"] == shown


def test_four_deliveries_in_a_month_are_shown_as_fewer_than_five(consents, wellbeing):
    (consent,) = consents(1)
    _deliver(consent, 4, on=_months_ago(1))

    deliveries = dict(public_figures(service=wellbeing).deliveries)

    assert deliveries[_months_ago(1).replace(day=1)] == SMALL


def test_five_deliveries_in_a_month_are_shown(consents, wellbeing):
    (consent,) = consents(1)
    _deliver(consent, 5, on=_months_ago(2))

    deliveries = dict(public_figures(service=wellbeing).deliveries)

    assert deliveries[_months_ago(2).replace(day=1)] == PublicFigure(5)


def test_deliveries_cover_the_twelve_complete_months_before_this_one(db, wellbeing):
    today = date(2026, 3, 4)

    months = [month for month, _figure in public_figures(service=wellbeing, today=today).deliveries]

    assert months[0] == date(2025, 3, 1)
    assert months[-1] == date(2026, 2, 1)
    assert len(months) == 12


def test_this_months_deliveries_are_not_shown_until_it_ends(consents, wellbeing):
    (consent,) = consents(1)
    _deliver(consent, 6, on=timezone.localdate())

    deliveries = public_figures(service=wellbeing).deliveries

    assert all(figure == SMALL for _month, figure in deliveries)


def test_failed_transfers_are_not_deliveries(consents, wellbeing):
    (consent,) = consents(1)
    _deliver(consent, 5, on=_months_ago(1))
    Transfer.objects.update(status=Transfer.Status.FAILED)

    deliveries = dict(public_figures(service=wellbeing).deliveries)

    assert deliveries[_months_ago(1).replace(day=1)] == SMALL


def test_a_source_counts_no_delivery_of_a_run_it_had_no_part_in(joiner, wearable, city, aino):
    parts = [(wearable, ["wellbeing.steps"]), (city, ["city.contact_details"])]
    request = request_consent_over(sink=joiner, parts=parts, frequency=OFTEN)
    link_resident(aino, wearable)
    link_resident(aino, city, reference="resident-9")
    consent = grant_consent(request, aino)
    # The sink asks only for the city's data: the watch is not asked, five times.
    _deliver(consent, 5, on=_months_ago(1), data_types=["city.contact_details"])
    month = _months_ago(1).replace(day=1)

    assert dict(public_figures(service=city).deliveries)[month] == PublicFigure(5)
    assert dict(public_figures(service=wearable).deliveries)[month] == SMALL


def test_the_page_shows_no_total_of_deliveries(client, consents):
    (consent,) = consents(1)
    _deliver(consent, 5, on=_months_ago(1))

    text = client.get(page(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert text.count("<td>5</td>") == 1
    assert "Total" not in text


# -- bounded queries --------------------------------------------------------------------


def _queries(client, slug: str = "wellbeing") -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page(slug)).status_code == 200
    return len(queries)


def test_the_page_reads_in_six_statements(client, consents):
    consents(1)

    # The service with its organisation, its two sets of types, its algorithms; the
    # consent counts, the deliveries by month.
    assert _queries(client) == 6


def test_the_page_reads_no_more_for_more_consents_deliveries_and_algorithms(
    client, consents, wellbeing, sink_provider
):
    consents(1)
    one = _queries(client)
    for consent in consents(5):
        _deliver(consent, 2, on=_months_ago(3))
    registry_services.service_update(
        service=wellbeing, actor=sink_provider.user,
        spec={"algorithms": [algorithm_spec()] * 3},
    )  # fmt: skip
    registry_services.service_approve(service=wellbeing, actor=make_user("staff-2"))

    assert _queries(client) == one
