"""A service's algorithms: registered, changed and shown through the API, and in the admin."""

import hashlib
import json

import pytest
from django.conf import settings

from registry import selectors
from registry.generation import generation_current
from registry.models import Algorithm, AuditEvent, Service
from registry.services import MAX_ALGORITHMS
from tests.factories import (
    algorithm_spec,
    api_as,
    automated,
    register_service,
    sink_spec,
)

pytestmark = pytest.mark.django_db
LIST = "/api/v1/services"


def _register(sink_provider, **changes):
    spec = sink_spec(**{"transparency": automated(), "algorithms": [algorithm_spec()], **changes})
    return api_as(sink_provider).post(LIST, spec, format="json", HTTP_ACCEPT_LANGUAGE="en")


def _fields(response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.json()
    return [(error["field"], error["code"]) for error in response.json()["fields"]]


@pytest.fixture
def approved(sink_provider, data_types, staff):
    """The wellbeing sink, approved, with its one algorithm."""
    return register_service(
        sink_provider,
        sink_spec(transparency=automated(), algorithms=[algorithm_spec()]),
        approve_by=staff,
    )


# -- registered and shown -------------------------------------------------------------


def test_algorithms_registered_come_back_as_sent(sink_provider, data_types):
    response = _register(sink_provider)

    assert response.status_code == 201, response.json()
    assert response.json()["algorithms"] == [algorithm_spec()]


def test_the_owner_reads_the_algorithms(sink_provider, data_types):
    service_id = _register(sink_provider).json()["id"]

    body = api_as(sink_provider).get(f"{LIST}/{service_id}").json()

    assert body["algorithms"] == [algorithm_spec()]


def test_the_public_registry_shows_an_approved_services_algorithms(approved, client):
    (shown,) = client.get(LIST).json()["results"]

    assert shown["algorithms"] == [algorithm_spec()]
    assert shown["transparency_page"] == f"{settings.BASE_URL}/services/wellbeing/transparency"


def test_algorithms_keep_their_order(sink_provider, data_types):
    names = [{"fi": f"A{n}", "sv": f"A{n}", "en": f"A{n}"} for n in range(3)]

    response = _register(
        sink_provider, algorithms=[algorithm_spec(name=name) for name in reversed(names)]
    )

    assert [a["name"] for a in response.json()["algorithms"]] == list(reversed(names))


def test_a_service_without_algorithms_shows_an_empty_list(sink_provider, data_types):
    response = api_as(sink_provider).post(LIST, sink_spec(), format="json")

    assert response.json()["algorithms"] == []


def test_registering_algorithms_is_audited_with_their_hash(sink_provider, data_types):
    service_id = _register(sink_provider).json()["id"]
    service = Service.objects.get(pk=service_id)

    event = AuditEvent.objects.get(service=service, action="service.registered")

    shown = selectors.algorithms_shown(service)
    assert event.detail["algorithms_sha256"] == selectors.algorithms_sha256(shown)


# -- changed: replaced whole ----------------------------------------------------------


def test_an_update_replaces_the_algorithms_whole(approved, sink_provider):
    new = algorithm_spec(name={"fi": "Uusi", "sv": "Ny", "en": "New"})

    response = api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}", {"algorithms": [new]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["algorithms"] == [new]
    assert Algorithm.objects.filter(service=approved).count() == 1


def test_an_empty_list_removes_the_algorithms(approved, sink_provider):
    response = api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}", {"algorithms": []}, format="json"
    )

    assert response.json()["algorithms"] == []
    assert not Algorithm.objects.filter(service=approved).exists()


def test_an_update_without_algorithms_keeps_them(approved, sink_provider):
    response = api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}", {"description": {"fi": "U", "sv": "N", "en": "N"}}, format="json"
    )

    assert response.json()["algorithms"] == [algorithm_spec()]
    assert response.json()["status"] == "approved"


def test_changed_algorithms_send_the_service_back_to_review(approved, sink_provider):
    changed = algorithm_spec(logic={"fi": "Toisin.", "sv": "Annorlunda.", "en": "Otherwise."})

    response = api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}", {"algorithms": [changed]}, format="json"
    )

    assert response.json()["status"] == "pending"


def test_changed_algorithms_are_audited_with_their_new_hash(approved, sink_provider):
    changed = algorithm_spec(logic={"fi": "Toisin.", "sv": "Annorlunda.", "en": "Otherwise."})

    api_as(sink_provider).patch(f"{LIST}/{approved.pk}", {"algorithms": [changed]}, format="json")

    event = AuditEvent.objects.get(service=approved, action="service.updated")
    assert event.detail["fields"] == ["algorithms"]
    assert event.detail["algorithms_sha256"] == selectors.algorithms_sha256(
        selectors.algorithms_shown(approved)
    )


def test_the_same_algorithms_sent_again_change_nothing(approved, sink_provider):
    before = generation_current()

    api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}", {"algorithms": [algorithm_spec()]}, format="json"
    )

    assert not AuditEvent.objects.filter(service=approved, action="service.updated").exists()
    assert generation_current() == before


def test_changed_algorithms_are_a_new_registry_generation(approved, sink_provider):
    before = generation_current()

    api_as(sink_provider).patch(f"{LIST}/{approved.pk}", {"algorithms": []}, format="json")

    assert generation_current() != before


# -- bad input ------------------------------------------------------------------------


def test_a_text_missing_a_language_is_refused_with_its_field(sink_provider, data_types):
    logic = {"fi": "Jaetaan tasoihin.", "en": "Split into levels."}

    response = _register(sink_provider, algorithms=[algorithm_spec(logic=logic)])

    assert _fields(response) == [("algorithms[0].logic.sv", "required")]
    assert not Service.objects.exists()


def test_a_missing_field_of_the_second_algorithm_names_it(sink_provider, data_types):
    second = algorithm_spec()
    del second["human_oversight"]

    response = _register(sink_provider, algorithms=[algorithm_spec(), second])

    assert _fields(response) == [("algorithms[1].human_oversight", "required")]


def test_an_unknown_data_type_is_refused(sink_provider, data_types):
    response = _register(sink_provider, algorithms=[algorithm_spec(data_types=["wellbeing.mood"])])

    assert _fields(response) == [("algorithms[0].data_types", "unknown_data_type")]


def test_a_data_type_the_service_does_not_handle_is_refused(sink_provider, data_types):
    response = _register(
        sink_provider, algorithms=[algorithm_spec(data_types=["wellbeing.heart_rate"])]
    )

    assert _fields(response) == [("algorithms[0].data_types", "data_type_not_used")]


def test_an_algorithm_using_no_data_type_is_refused(sink_provider, data_types):
    response = _register(sink_provider, algorithms=[algorithm_spec(data_types=[])])

    assert _fields(response) == [("algorithms[0].data_types", "empty")]


def test_more_algorithms_than_the_limit_are_refused(sink_provider, data_types):
    response = _register(sink_provider, algorithms=[algorithm_spec()] * (MAX_ALGORITHMS + 1))

    assert _fields(response) == [("algorithms", "too_many_algorithms")]


def test_the_limit_of_algorithms_is_accepted(sink_provider, data_types):
    response = _register(sink_provider, algorithms=[algorithm_spec()] * MAX_ALGORITHMS)

    assert response.status_code == 201, response.json()


def test_algorithms_of_a_service_without_automated_processing_are_refused(
    sink_provider, data_types
):
    transparency = {"automated_decisions": False, "profiling": False}

    response = _register(sink_provider, transparency=transparency)

    assert _fields(response) == [("algorithms", "not_automated")]


def test_profiling_alone_is_enough_for_algorithms(sink_provider, data_types):
    response = _register(
        sink_provider, transparency=automated(automated_decisions=False, profiling=True)
    )

    assert response.status_code == 201, response.json()


def test_turning_automated_processing_off_with_algorithms_kept_is_refused(approved, sink_provider):
    response = api_as(sink_provider).patch(
        f"{LIST}/{approved.pk}",
        {"transparency": {"automated_decisions": False, "profiling": False}},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert _fields(response) == [("algorithms", "not_automated")]


def test_dropping_a_data_type_an_algorithm_uses_is_refused(approved, sink_provider):
    sink = {
        "delivery_url": "https://sink.example.fi/deliver",
        "data_types": ["city.contact_details"],
    }

    response = api_as(sink_provider).patch(f"{LIST}/{approved.pk}", {"sink": sink}, format="json")

    assert _fields(response) == [("algorithms[0].data_types", "data_type_not_used")]
    assert approved.accepted_types.get().key == "wellbeing.steps"


def test_a_register_url_must_be_https(sink_provider, data_types):
    response = _register(
        sink_provider, algorithms=[algorithm_spec(register_url="http://algoritmit.espoo.fi/a")]
    )

    assert _fields(response) == [("algorithms[0].register_url", "https_required")]


def test_a_control_character_in_a_text_is_refused(sink_provider, data_types):
    name = {"fi": "Taso\u202e", "sv": "Nivå", "en": "Level"}

    response = _register(sink_provider, algorithms=[algorithm_spec(name=name)])

    assert _fields(response) == [("algorithms[0].name.fi", "unprintable_character")]


def test_a_text_too_long_is_refused(sink_provider, data_types):
    logic = {"fi": "x" * 4001, "sv": "x", "en": "x"}

    response = _register(sink_provider, algorithms=[algorithm_spec(logic=logic)])

    assert _fields(response) == [("algorithms[0].logic.fi", "max_length")]


def test_an_unknown_field_of_an_algorithm_is_refused(sink_provider, data_types):
    response = _register(sink_provider, algorithms=[algorithm_spec(weights=[0.3])])

    assert _fields(response) == [("algorithms[0].weights", "unknown_field")]


def test_algorithms_that_are_no_list_are_refused(sink_provider, data_types):
    response = _register(sink_provider, algorithms={"name": "x"})

    assert _fields(response) == [("algorithms", "not_a_list")]


# -- the description shown, and its hash ---------------------------------------------


def test_algorithms_shown_is_the_apis_list(approved):
    assert selectors.algorithms_shown(approved) == [algorithm_spec()]


def test_algorithms_sha256_is_over_the_canonical_json(approved):
    shown = selectors.algorithms_shown(approved)
    canonical = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert selectors.algorithms_sha256(shown) == hashlib.sha256(canonical.encode()).hexdigest()


def test_algorithms_sha256_changes_with_any_text(approved):
    shown = selectors.algorithms_shown(approved)
    changed = [{**shown[0], "human_oversight": {**shown[0]["human_oversight"], "sv": "Ingen."}}]

    assert selectors.algorithms_sha256(changed) != selectors.algorithms_sha256(shown)


def test_algorithms_shown_reads_nothing_when_prefetched(approved, django_assert_num_queries):
    service = selectors.service_list_public().get(pk=approved.pk)

    with django_assert_num_queries(0):
        selectors.algorithms_shown(service)


# -- the admin --------------------------------------------------------------------------


def test_staff_read_the_algorithms_in_the_admin(approved, client, staff):
    client.force_login(staff)

    response = client.get(f"/admin/registry/service/{approved.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Activity level" in page
    assert "An instructor checks every suggestion." in page
