"""The sink's algorithms on the consent screen, next to the data they use, bound by the receipt."""

import hashlib
import re

import jwt
import pytest

from consent.models import Consent
from ledger import jws
from registry import services as registry_services
from tests.factories import (
    algorithm_spec,
    automated,
    link_resident,
    register_service,
    request_consent,
    sink_spec,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def profiling_sink(sink_provider, data_types, staff):
    """The wellbeing programme, which ranks daily steps into activity levels."""
    spec = sink_spec(transparency=automated(), algorithms=[algorithm_spec()])
    return register_service(sink_provider, spec, approve_by=staff)


@pytest.fixture
def asked(profiling_sink, wearable, aino):
    link_resident(aino, wearable)
    return request_consent(sink=profiling_sink, source=wearable)


def screen(client, request, language: str = "en") -> str:
    page = client.get(f"/consent/requests/{request.id}", HTTP_ACCEPT_LANGUAGE=language)
    return page.content.decode()


def approve(client, request, page: str, language: str = "en"):
    notice_sha256 = re.search(r'name="notice_sha256" value="([0-9a-f]{64})"', page)[1]
    return client.post(
        f"/consent/requests/{request.id}/answer",
        {"answer": "approve", "notice_sha256": notice_sha256},
        HTTP_ACCEPT_LANGUAGE=language,
    )


@pytest.mark.parametrize(
    ("language", "name", "logic"),
    [
        ("en", "Activity level", "The week's average daily steps are split into three levels."),
        ("fi", "Aktiivisuustaso", "Viikon keskimääräiset askeleet jaetaan kolmeen tasoon."),
        ("sv", "Aktivitetsnivå", "Veckans genomsnittliga steg delas in i tre nivåer."),
    ],
)
def test_the_screen_shows_each_algorithm_beside_the_data_it_uses(
    client, aino, asked, language, name, logic
):
    client.force_login(aino)

    page = screen(client, asked, language)

    [steps] = re.findall(r"<li>steps.*?</li>", page, flags=re.S)
    assert name in steps
    assert logic.replace("'", "&#x27;") in page
    assert 'href="https://algoritmit.espoo.fi/aktiivisuustaso"' in page


def test_the_receipt_binds_the_algorithms_shown_by_the_hash_anyone_can_compute(
    client, aino, asked, profiling_sink
):
    client.force_login(aino)
    approve(client, asked, screen(client, asked))

    consent = Consent.objects.get()
    # Computed as an outsider would, from the public registry's answer.
    public = client.get(f"/api/v1/services/{profiling_sink.id}").json()["algorithms"]
    expected = hashlib.sha256(jws.canonical_json(public)).hexdigest()
    receipt = consent.receipts.get().jws
    published = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    payload = jwt.decode(
        receipt, key=published[jwt.get_unverified_header(receipt)["kid"]], algorithms=["ES256"]
    )
    assert payload["omadata"]["algorithms_sha256"] == expected
    assert consent.algorithms == public


def test_algorithms_changed_while_the_resident_reads_are_not_agreed_to(
    client, aino, asked, profiling_sink, staff
):
    client.force_login(aino)
    page = screen(client, asked)
    changed = algorithm_spec(logic={"fi": "Uusi.", "sv": "Ny.", "en": "New."})
    registry_services.service_update(
        service=profiling_sink, actor=staff, spec={"algorithms": [changed]}
    )
    registry_services.service_approve(service=profiling_sink, actor=staff)

    response = approve(client, asked, page)

    assert response.status_code == 302
    assert response["Location"] == f"/consent/requests/{asked.id}"
    assert not Consent.objects.exists()


def test_the_consent_page_shows_the_algorithms_as_agreed_after_they_change(
    client, aino, asked, profiling_sink, staff
):
    client.force_login(aino)
    approve(client, asked, screen(client, asked))
    renamed = algorithm_spec(name={"fi": "Uusi", "sv": "Ny", "en": "Renamed"})
    registry_services.service_update(
        service=profiling_sink, actor=staff, spec={"algorithms": [renamed]}
    )

    page = client.get(f"/my/consents/{Consent.objects.get().id}", HTTP_ACCEPT_LANGUAGE="en")

    text = page.content.decode()
    assert "Activity level" in text
    assert "Renamed" not in text
    assert f"/services/{profiling_sink.slug}/transparency" in text
