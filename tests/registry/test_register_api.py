import pytest

from registry.models import AuditEvent, Service
from tests.factories import api_as, register_service, sink_spec, source_spec

pytestmark = pytest.mark.django_db


def test_provider_registers_a_pending_service(source_provider, data_types):
    response = api_as(source_provider).post("/api/v1/services", source_spec(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["roles"] == ["source"]
    assert sorted(body["offers"]) == ["wellbeing.heart_rate", "wellbeing.steps"]
    service = Service.objects.get(pk=body["id"])
    assert service.organisation == source_provider.organisation
    assert AuditEvent.objects.filter(service=service, action="service.registered").count() == 1


def test_pending_service_is_not_in_public_list(source_provider, data_types, client):
    api_as(source_provider).post("/api/v1/services", source_spec(), format="json")

    assert client.get("/api/v1/services").json()["results"] == []


def test_approved_service_is_in_public_list(source_provider, data_types, staff, client):
    register_service(source_provider, source_spec(), approve_by=staff)

    results = client.get("/api/v1/services").json()["results"]

    assert [s["slug"] for s in results] == ["wearable"]
    assert "fetch_url" not in results[0]


def test_malformed_json_is_a_400_with_code(source_provider):
    response = api_as(source_provider).post(
        "/api/v1/services", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_unknown_field_is_refused(source_provider, data_types):
    response = api_as(source_provider).post(
        "/api/v1/services", source_spec(colour="blue"), format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == [
        {"field": "colour", "code": "unknown_field", "message": "Unknown field."}
    ]
    assert not Service.objects.exists()


def test_sink_and_source_register(sink_provider, data_types):
    response = api_as(sink_provider).post("/api/v1/services", sink_spec(), format="json")

    assert response.status_code == 201, response.json()


def test_public_list_filters_by_role(source_provider, sink_provider, data_types, staff, client):
    register_service(source_provider, source_spec(), approve_by=staff)
    register_service(sink_provider, sink_spec(), approve_by=staff)

    sinks = client.get("/api/v1/services", {"role": "sink"}).json()["results"]

    assert [s["slug"] for s in sinks] == ["wellbeing"]


def test_public_list_refuses_an_unknown_role(client, db):
    response = client.get("/api/v1/services", {"role": "broker"})

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "role"


def test_a_sink_states_its_retention_when_it_registers(sink_provider, data_types):
    retention = {
        "fi": "Poistamme 30 päivässä.",
        "sv": "Vi raderar inom 30 dagar.",
        "en": "30 days.",
    }
    response = api_as(sink_provider).post(
        "/api/v1/services", sink_spec(retention=retention), format="json"
    )

    assert response.status_code == 201
    assert response.json()["retention"] == retention


def test_a_service_that_stated_no_retention_shows_null(sink_provider, data_types):
    response = api_as(sink_provider).post("/api/v1/services", sink_spec(), format="json")

    assert response.json()["retention"] is None


def test_a_retention_statement_over_the_limit_is_refused(sink_provider, data_types):
    retention = {"fi": "x" * 1001, "sv": "x", "en": "x"}
    response = api_as(sink_provider).post(
        "/api/v1/services", sink_spec(retention=retention), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "retention.fi"
