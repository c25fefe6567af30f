"""Staff keep the data types in the admin: keys fixed, types in use kept, every change audited."""

import pytest

from registry.models import AuditEvent, DataType
from tests.factories import register_service, source_spec

pytestmark = pytest.mark.django_db

ADMIN = "/admin/registry/datatype/"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def form(data_type: DataType | None = None, **changes) -> dict:
    """The admin's form for `data_type` (a new one if None), as a browser sends it."""
    fields = {
        "key": "city.parking_permits",
        "title_fi": "Pysäköintiluvat",
        "title_sv": "Parkeringstillstånd",
        "title_en": "Parking permits",
        "description_fi": "",
        "description_sv": "",
        "description_en": "",
        "schema": "",
    }
    if data_type is not None:
        fields.update(
            {name: getattr(data_type, name) for name in fields if name not in ("schema",)}
        )
        fields["sensitive"] = "on" if data_type.sensitive else ""
    fields.update(changes)
    return {name: value for name, value in fields.items() if value != "" or name != "sensitive"}


def change_url(data_type: DataType) -> str:
    return f"{ADMIN}{data_type.pk}/change/"


def test_a_data_types_key_cannot_be_changed_in_the_admin(admin_client, data_types):
    steps = data_types["wellbeing.steps"]

    page = admin_client.get(change_url(steps))
    admin_client.post(change_url(steps), form(steps, key="wellbeing.paces"))

    assert 'name="key"' not in page.content.decode()
    steps.refresh_from_db()
    assert steps.key == "wellbeing.steps"


def test_a_new_data_type_gets_its_key_in_the_admin(admin_client, staff):
    response = admin_client.post(f"{ADMIN}add/", form())

    assert response.status_code == 302
    created = DataType.objects.get(key="city.parking_permits")
    [event] = AuditEvent.objects.filter(action="data_type.created")
    assert (event.actor, event.detail["key"]) == (staff, created.key)


def test_a_change_to_a_data_type_is_audited_with_the_fields_changed(
    admin_client, staff, data_types
):
    steps = data_types["wellbeing.steps"]

    response = admin_client.post(change_url(steps), form(steps, title_en="Daily steps"))

    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action="data_type.changed")
    assert event.actor == staff
    assert event.detail == {"key": "wellbeing.steps", "fields": ["title_en"]}


def test_a_data_type_in_use_cannot_be_deleted_and_the_admin_says_why(
    admin_client, source_provider, data_types
):
    register_service(source_provider, source_spec())
    steps = data_types["wellbeing.steps"]

    page = admin_client.get(f"{ADMIN}{steps.pk}/delete/")
    answer = admin_client.post(f"{ADMIN}{steps.pk}/delete/", {"post": "yes"})

    assert page.status_code == answer.status_code == 200
    assert "the following protected related objects" in page.content.decode()
    assert "<li>service: wearable</li>" in page.content.decode()
    assert DataType.objects.filter(pk=steps.pk).exists()
    assert not AuditEvent.objects.filter(action="data_type.deleted").exists()


def test_a_data_type_in_use_cannot_be_deleted_with_the_bulk_action(
    admin_client, source_provider, data_types
):
    register_service(source_provider, source_spec())
    steps = data_types["wellbeing.steps"]

    answer = admin_client.post(
        ADMIN, {"action": "delete_selected", "_selected_action": [steps.pk], "post": "yes"}
    )

    assert answer.status_code == 200
    assert "protected" in answer.content.decode()
    assert DataType.objects.filter(pk=steps.pk).exists()


def test_a_data_type_no_one_uses_is_deleted_with_an_audit_event(admin_client, staff, data_types):
    contact = data_types["city.contact_details"]

    answer = admin_client.post(f"{ADMIN}{contact.pk}/delete/", {"post": "yes"})

    assert answer.status_code == 302
    assert not DataType.objects.filter(key="city.contact_details").exists()
    [event] = AuditEvent.objects.filter(action="data_type.deleted")
    assert (event.actor, event.detail) == (staff, {"key": "city.contact_details"})


@pytest.mark.parametrize(
    "schema",
    ["[" * 5000 + "]" * 5000, '{"type": "object", "description": "' + "x" * 70_000 + '"}'],
    ids=["deep", "long"],
)
def test_a_schema_beyond_the_json_bounds_is_refused_in_the_admin(admin_client, data_types, schema):
    steps = data_types["wellbeing.steps"]

    answer = admin_client.post(change_url(steps), form(steps, schema=schema))

    assert answer.status_code == 200
    assert "errorlist" in answer.content.decode()
    steps.refresh_from_db()
    assert steps.schema is None
    assert not AuditEvent.objects.filter(action="data_type.changed").exists()


def test_a_schema_within_the_bounds_is_kept(admin_client, data_types):
    steps = data_types["wellbeing.steps"]

    answer = admin_client.post(
        change_url(steps), form(steps, schema='{"type": "object", "required": ["steps"]}')
    )

    assert answer.status_code == 302
    steps.refresh_from_db()
    assert steps.schema == {"type": "object", "required": ["steps"]}
