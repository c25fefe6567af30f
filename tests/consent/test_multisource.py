"""One consent over several sources: asked for, shown, linked, granted, receipted, stopped."""

import hashlib
import re
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import jwt
import pytest
from django.utils import timezone

from common.errors import Conflict
from consent import services
from consent.models import Consent, Receipt
from ledger import jws
from tests.factories import (
    api_as,
    city_spec,
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    request_consent_over,
)
from webhooks.models import Notification

pytestmark = pytest.mark.django_db
ALL = "services:read consents:request consents:read links:write"
STEPS, HEART, CONTACT = "wellbeing.steps", "wellbeing.heart_rate", "city.contact_details"


@pytest.fixture
def joined(joiner, wearable, city):
    """The joiner asks for steps and heart rate from the watch, contact details from the city."""
    return request_consent_over(sink=joiner, parts=[(wearable, [STEPS, HEART]), (city, [CONTACT])])


@pytest.fixture
def both_linked(aino, wearable, city):
    return link_resident(aino, wearable), link_resident(aino, city, reference="resident-9")


@pytest.fixture
def joint(joined, aino, both_linked):
    """Aino's consent over the watch and the city's records."""
    return grant_consent(joined, aino)


def ask(provider, body: dict):
    return api_as(provider, ALL).post("/api/v1/consent-requests", body, format="json")


def api_body(joiner, parts: list[tuple[object, list[str]]]) -> dict:
    """The API's JSON for a request over `parts`: each (service or id, data type keys)."""
    return {
        "sink": str(joiner.id),
        "sources": [
            {"source": str(getattr(source, "id", source)), "data_types": keys}
            for source, keys in parts
        ],
        "purpose": {"fi": "Liikunta.", "sv": "Motion.", "en": "Exercise."},
        "purpose_category": "wellbeing",
        "valid_until": (timezone.now() + timedelta(days=30)).isoformat(),
        "frequency": {"kind": "one_off"},
        "return_url": "https://sink.example.fi/back",
    }


def refused_field(response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return [(f["field"], f["code"]) for f in response.json()["fields"]]


# -- the API's bad inputs ----------------------------------------------------------------


def test_a_data_type_the_second_source_does_not_offer_is_refused_with_its_field(
    sink_provider, joiner, wearable, city
):
    body = api_body(joiner, [(wearable, [STEPS]), (city, [STEPS])])

    assert refused_field(ask(sink_provider, body)) == [("sources[1].data_types", "not_offered")]


def test_an_unknown_second_source_is_refused_with_its_field(sink_provider, joiner, wearable):
    body = api_body(joiner, [(wearable, [STEPS]), (uuid.uuid4(), [CONTACT])])

    assert refused_field(ask(sink_provider, body)) == [("sources[1].source", "unknown_source")]


def test_the_same_source_twice_is_refused(sink_provider, joiner, wearable):
    body = api_body(joiner, [(wearable, [STEPS]), (wearable, [HEART])])

    assert refused_field(ask(sink_provider, body)) == [("sources", "duplicate_source")]


def test_a_source_that_is_also_the_sink_is_refused(sink_provider, joiner, wearable):
    body = api_body(joiner, [(wearable, [STEPS]), (joiner, [CONTACT])])

    assert refused_field(ask(sink_provider, body)) == [("sources", "source_is_sink")]


def test_more_sources_than_the_limit_are_refused(sink_provider, joiner, settings):
    assert settings.OMADATA_MAX_CONSENT_SOURCES == 5
    body = api_body(joiner, [(uuid.uuid4(), [STEPS]) for _ in range(6)])

    assert refused_field(ask(sink_provider, body)) == [("sources", "too_many_sources")]


def test_both_forms_at_once_are_refused(sink_provider, joiner, wearable):
    body = {**api_body(joiner, [(wearable, [STEPS])]), "source": str(wearable.id),
            "data_types": [STEPS]}  # fmt: skip

    assert refused_field(ask(sink_provider, body)) == [("sources", "sources_required")]


def test_neither_form_is_refused(sink_provider, joiner, wearable):
    body = api_body(joiner, [(wearable, [STEPS])])
    del body["sources"]

    assert refused_field(ask(sink_provider, body)) == [("sources", "sources_required")]


def test_a_two_source_request_is_answered_with_its_sources_in_order(
    sink_provider, joiner, wearable, city
):
    body = api_body(joiner, [(city, [CONTACT]), (wearable, [STEPS, HEART])])

    response = ask(sink_provider, body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["sources"] == [
        {"source": str(city.id), "data_types": [CONTACT]},
        {"source": str(wearable.id), "data_types": [HEART, STEPS]},
    ]
    assert created["source"] is None
    assert created["data_types"] == sorted([CONTACT, HEART, STEPS])
    read = api_as(sink_provider, ALL).get(f"/api/v1/consent-requests/{created['id']}").json()
    assert (read["sources"], read["source"]) == (created["sources"], None)


def test_a_one_source_request_still_names_its_source(sink_provider, wellbeing, wearable):
    body = api_body(wellbeing, [(wearable, [STEPS])])

    created = ask(sink_provider, body).json()

    assert created["source"] == str(wearable.id)
    assert created["sources"] == [{"source": str(wearable.id), "data_types": [STEPS]}]


# -- the consent screen ------------------------------------------------------------------


def screen(client, consent_request) -> str:
    response = client.get(f"/consent/requests/{consent_request.id}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def test_the_screen_groups_the_data_by_source_with_sensitive_marked_in_its_group(
    client, aino, joined
):
    client.force_login(aino)

    page = screen(client, joined)

    watch = page.index("From Askel watch:")
    records = page.index("From City records:")
    assert watch < records
    watch_part, city_part = page[watch:records], page[records:]
    assert "heart_rate" in watch_part
    assert "steps" in watch_part
    assert "sensitive: health or other special data" in watch_part
    assert "contact_details" in city_part
    assert "sensitive: health or other special data" not in city_part


def test_the_screen_asks_to_link_each_source_in_turn_before_approval(
    client, aino, joined, wearable, city
):
    client.force_login(aino)

    first = screen(client, joined)
    link_resident(aino, wearable)
    second = screen(client, joined)
    link_resident(aino, city, reference="resident-9")
    last = screen(client, joined)

    assert "First, link your accounts" in first
    assert "Link my account at Askel watch" in first
    assert f'name="source" value="{wearable.pk}"' in first
    assert 'value="approve"' not in first
    assert "Link my account at City records" in second
    assert f'name="source" value="{city.pk}"' in second
    assert re.search(r"Askel watch: <strong>linked</strong>", second)
    assert "City records: not linked yet" in second
    assert 'value="approve"' not in second
    assert "Link my account at" not in last
    assert 'value="approve"' in last


def link_start(client, consent_request, source) -> str:
    response = client.post(f"/consent/requests/{consent_request.id}/link", {"source": source})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    return f"{location.scheme}://{location.netloc}{location.path}"


def test_the_link_form_starts_a_link_at_the_source_it_names(client, aino, joined, city):
    client.force_login(aino)

    assert link_start(client, joined, str(city.pk)) == "https://city.example.fi/link"


def test_the_link_form_never_starts_a_link_outside_the_request(
    client, aino, joined, wearable, joiner, source_provider, staff
):
    """Another service's id, even an approved source's, starts the first unlinked one's."""
    other = register_service(
        source_provider,
        city_spec(slug="other-records", privacy_policy_url="https://wearable.example.fi/p",
                  source={"fetch_url": "https://wearable.example.fi/other",
                          "link_url": "https://wearable.example.fi/other-link",
                          "data_types": [CONTACT]}),
        approve_by=staff,
    )  # fmt: skip
    link_resident(aino, wearable)
    client.force_login(aino)

    for named in (str(other.pk), str(joiner.pk), "not-an-id"):
        assert link_start(client, joined, named) == "https://city.example.fi/link"
    assert not aino.service_links.filter(service=other).exists()


# -- granting and the receipt ------------------------------------------------------------


def test_granting_with_one_of_two_sources_unlinked_is_refused(joined, aino, wearable):
    link_resident(aino, wearable)

    with pytest.raises(Conflict) as refused:
        grant_consent(joined, aino)

    assert refused.value.code == "link_required"
    assert not Consent.objects.exists()


def test_the_granted_receipt_lists_both_sources_and_verifies_with_the_published_keys(
    client, joint, wearable, city
):
    receipt = joint.receipts.get()
    published = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    header = jwt.get_unverified_header(receipt.jws)

    payload = jwt.decode(
        receipt.jws, key=published[header["kid"]], algorithms=["ES256"],
        options={"verify_aud": False},
    )  # fmt: skip

    omadata = payload["omadata"]
    assert "source" not in omadata
    assert [
        (s["id"], s["slug"], s["organisation"], s["data_types"]) for s in omadata["sources"]
    ] == [
        (str(wearable.id), "wearable", "Askel Wearables Oy", [HEART, STEPS]),
        (str(city.id), "city-records", "Helsingin kaupunki", [CONTACT]),
    ]
    assert omadata["data_types"] == sorted([CONTACT, HEART, STEPS])
    assert payload["sensitive"] is True
    assert payload["spiCat"] == [HEART]
    # The sink's algorithm descriptions as the public registry states them, by their hash.
    stated = client.get(f"/api/v1/services/{joint.sink_id}").json()["algorithms"]
    assert [a["name"]["en"] for a in stated] == ["Activity level"]
    assert omadata["algorithms_sha256"] == hashlib.sha256(jws.canonical_json(stated)).hexdigest()


# -- stopping it ---------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["withdraw", "pause"])
def test_withdrawing_or_pausing_notifies_both_sources_and_the_sink(
    joint, wearable, city, joiner, change
):
    getattr(services, f"consent_{change}")(consent=joint)

    event = {"withdraw": "consent.withdrawn", "pause": "consent.paused"}[change]
    sent = Notification.objects.filter(event=event)
    assert sorted(str(n.service_id) for n in sent) == sorted(
        str(s.id) for s in (wearable, city, joiner)
    )
    data = jws.payload_of(sent.first().body)["data"]
    assert (data["sources"], data["source"]) == ([str(wearable.id), str(city.id)], None)


@pytest.mark.parametrize("which", [0, 1], ids=["watch", "city"])
def test_removing_either_sources_link_withdraws_the_consent(joint, both_linked, which):
    services.link_remove(link=both_linked[which])

    joint.refresh_from_db()
    assert joint.status == "withdrawn"
    last = joint.receipts.order_by(*Receipt.IN_ORDER).last()
    assert last.event == "consent.withdrawn"


# -- supersession ----------------------------------------------------------------------------


def test_a_consent_sharing_a_source_with_the_same_sink_and_purpose_supersedes(
    joint, joiner, city, aino
):
    """The city alone now: the joint consent is replaced, not kept beside it."""
    new = grant_consent(request_consent_over(sink=joiner, parts=[(city, [CONTACT])]), aino)

    joint.refresh_from_db()
    assert (joint.status, joint.superseded_by_id) == ("withdrawn", new.pk)
    assert new.status == "active"


def test_a_consent_sharing_no_source_leaves_the_other_live(
    joiner, wearable, city, aino, both_linked
):
    watch = grant_consent(request_consent_over(sink=joiner, parts=[(wearable, [STEPS])]), aino)

    records = grant_consent(request_consent_over(sink=joiner, parts=[(city, [CONTACT])]), aino)

    watch.refresh_from_db()
    assert (watch.status, records.status) == ("active", "active")


def test_a_consent_of_another_purpose_leaves_the_joint_one_live(joint, joiner, city, aino):
    other = request_consent_over(
        sink=joiner, parts=[(city, [CONTACT])], purpose_category="research"
    )

    grant_consent(other, aino)

    joint.refresh_from_db()
    assert joint.status == "active"


def test_one_source_requests_still_work_beside_joint_ones(wellbeing, wearable, aino, linked):
    consent = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)

    assert [part.service for part in consent.source_parts()] == [wearable]
