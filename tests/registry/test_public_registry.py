"""The public registry answers from what the process keeps, with ETags, and never stale.

Every change to the registry (registry/services.py, the admin) gives the registry a
new generation in its own transaction; the next request reads the rows again.
"""

import re

import pytest
from django.db import connection, transaction

from registry import apis, selectors, services
from registry.generation import generation_current, generation_kept
from registry.models import Service
from tests.docs.examples import DOCS
from tests.factories import api_as, register_service, sink_spec
from tests.registry.test_data_type_admin import form as data_type_form

pytestmark = pytest.mark.django_db

LIST = "/api/v1/services"


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def slugs(client, path: str = LIST) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200
    return [service["slug"] for service in response.json()["results"]]


# -- ETag, 304 and Cache-Control ---------------------------------------------------


def test_public_list_has_a_strong_etag_and_may_be_cached_if_revalidated(client, wearable):
    response = client.get(LIST)

    assert response["ETag"].startswith('"')  # strong: not W/"…"
    assert response["Cache-Control"] == "public, no-cache"


def test_public_list_answers_304_to_the_etag_it_gave(client, wearable):
    etag = client.get(LIST)["ETag"]

    response = client.get(LIST, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, no-cache"


def test_public_list_answers_200_to_another_etag(client, wearable):
    response = client.get(LIST, HTTP_IF_NONE_MATCH='"something-else"')

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_each_page_and_filter_has_its_own_etag(client, wearable, wellbeing):
    paths = [LIST, f"{LIST}?limit=1", f"{LIST}?limit=1&offset=1", f"{LIST}?role=sink"]

    etags = {client.get(path)["ETag"] for path in paths}

    assert len(etags) == len(paths)


def test_public_list_asked_with_credentials_is_not_kept_by_shared_caches(client, wearable):
    response = client.get(LIST, HTTP_AUTHORIZATION="Bearer whatever")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_public_service_answers_304_to_its_etag(client, wearable):
    path = f"{LIST}/{wearable.pk}"
    first = client.get(path)

    again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.json()["slug"] == "wearable"
    assert first["Cache-Control"] == "public, no-cache"
    assert again.status_code == 304


# -- filters and pages, cut from what is kept --------------------------------------------


def test_filters_choose_from_the_kept_list(client, wearable, wellbeing):
    assert slugs(client, f"{LIST}?role=source") == ["wearable"]
    assert slugs(client, f"{LIST}?role=sink") == ["wellbeing"]
    assert slugs(client, f"{LIST}?data_type=wellbeing.heart_rate") == ["wearable"]
    assert slugs(client, f"{LIST}?data_type=wellbeing.steps") == ["wearable", "wellbeing"]
    assert slugs(client, f"{LIST}?limit=1&offset=1") == ["wellbeing"]


def test_the_list_holds_each_service_as_its_own_read_shows_it(client, wearable, wellbeing):
    listed = client.get(f"{LIST}?limit=1&offset=1").json()

    assert listed["count"] == 2
    assert listed["previous"].endswith(f"{LIST}?limit=1")
    assert listed["next"] is None
    assert listed["results"] == [client.get(f"{LIST}/{wellbeing.pk}").json()]


def test_an_unknown_data_type_matches_nothing_and_is_not_kept(client, wearable):
    assert slugs(client, f"{LIST}?data_type=no.such_type") == []

    kept = generation_kept()
    assert kept is not None
    assert not [key for key in kept if "no.such_type" in str(key)]


def test_the_pages_kept_are_bounded(client, wearable, wellbeing, monkeypatch):
    monkeypatch.setattr(apis, "PUBLIC_PAGES_KEPT", 2)
    paths = [f"{LIST}?limit=1", f"{LIST}?limit=1&offset=1", f"{LIST}?role=sink"]

    answers = [slugs(client, path) for path in paths] + [slugs(client, paths[2])]

    assert answers == [["wearable"], ["wellbeing"], ["wellbeing"], ["wellbeing"]]
    assert len(generation_kept()["public pages"]) == 2


def test_a_refused_page_is_refused_again(client, wearable):
    first = client.get(f"{LIST}?limit=100000")
    again = client.get(f"{LIST}?limit=100000")

    assert first.status_code == again.status_code == 400
    assert again.json()["fields"][0]["field"] == "limit"


# -- every change shows at the next request ----------------------------------------------


def test_an_approved_service_appears_at_once(client, wearable, sink_provider, staff):
    assert slugs(client) == ["wearable"]

    register_service(sink_provider, sink_spec(), approve_by=staff)

    assert slugs(client) == ["wearable", "wellbeing"]


def test_a_service_suspended_in_the_admin_disappears_at_once(admin_client, client, wearable):
    etag = client.get(LIST)["ETag"]

    admin_client.post(
        "/admin/registry/service/",
        {"action": "suspend", "_selected_action": [str(wearable.pk)], "index": 0},
    )

    response = client.get(LIST, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert client.get(f"{LIST}/{wearable.pk}").status_code == 404


def test_a_description_changed_through_the_api_shows_at_once(client, wearable, source_provider):
    assert client.get(f"{LIST}/{wearable.pk}").json()["description"]["en"] == "A watch."
    description = {"fi": "Uusi.", "sv": "Ny.", "en": "New."}

    api_as(source_provider).patch(
        f"{LIST}/{wearable.pk}", {"description": description}, format="json"
    )

    assert client.get(f"{LIST}/{wearable.pk}").json()["description"]["en"] == "New."
    assert client.get(LIST).json()["results"][0]["description"]["en"] == "New."


def test_an_organisation_verified_in_the_admin_shows_at_once(admin_client, client, wearable):
    organisation = wearable.organisation
    assert client.get(LIST).json()["results"][0]["organisation"]["verified"] is False

    response = admin_client.post(
        f"/admin/registry/organisation/{organisation.pk}/change/",
        {"name": "Askel Oy", "contact_email": "askel@example.fi", "verified": "on"},
    )

    assert response.status_code == 302
    shown = client.get(LIST).json()["results"][0]["organisation"]
    assert shown == {**shown, "name": "Askel Oy", "verified": True}


@pytest.mark.parametrize("change", ["create", "edit", "delete"])
def test_a_data_type_change_in_the_admin_is_a_new_generation(admin_client, data_types, change):
    before = generation_current()
    contacts = data_types["city.contact_details"]

    if change == "create":
        response = admin_client.post("/admin/registry/datatype/add/", data_type_form())
    elif change == "edit":
        response = admin_client.post(
            f"/admin/registry/datatype/{contacts.pk}/change/",
            data_type_form(contacts, title_en="Contacts"),
        )
    else:
        response = admin_client.post(
            f"/admin/registry/datatype/{contacts.pk}/delete/", {"post": "yes"}
        )

    assert response.status_code == 302
    assert generation_current() != before


def test_a_data_type_created_in_the_admin_can_be_filtered_on_at_once(admin_client, data_types):
    assert "city.parking_permits" not in selectors.data_type_keys_cached()

    admin_client.post("/admin/registry/datatype/add/", data_type_form())

    assert "city.parking_permits" in selectors.data_type_keys_cached()


def test_a_new_organisation_is_a_new_generation(db):
    before = generation_current()

    services.organisation_create(
        name="Uusi Oy", business_id="1572860-0", contact_email="uusi@example.fi"
    )

    assert generation_current() != before


# -- services_cached: for hot paths ---------------------------------------------------


def test_service_cached_sees_a_suspension_at_once(wearable, staff):
    assert selectors.service_cached(service_id=wearable.pk).status == Service.Status.APPROVED

    services.service_suspend(service=wearable, actor=staff)

    assert selectors.service_cached(service_id=wearable.pk).status == Service.Status.SUSPENDED


def test_service_cached_reads_one_statement_when_kept(wearable, django_assert_num_queries):
    selectors.service_cached(service_id=wearable.pk)

    with django_assert_num_queries(1):
        service = selectors.service_cached(service_id=wearable.pk)
        keys = [t.key for t in service.offered_types.all()]
        name = service.organisation.name

    assert keys == ["wellbeing.heart_rate", "wellbeing.steps"]
    assert name == "Askel Wearables Oy"


def test_service_cached_answers_copies(wearable):
    first = selectors.service_cached(service_id=wearable.pk)
    first.status = Service.Status.SUSPENDED
    first.organisation.name = "Changed"

    again = selectors.service_cached(service_id=wearable.pk)

    assert again.status == Service.Status.APPROVED
    assert again.organisation.name == "Askel Wearables Oy"


def test_services_cached_leaves_out_unknown_ids(wearable, wellbeing):
    import uuid

    found = selectors.services_cached(service_ids=[wearable.pk, uuid.uuid4(), wellbeing.pk])

    assert set(found) == {wearable.pk, wellbeing.pk}


def test_a_change_rolled_back_is_never_served(wearable, staff):
    def suspend_read_and_roll_back() -> None:
        with transaction.atomic():
            services.service_suspend(service=wearable, actor=staff)
            # Read, and kept, inside the transaction that then rolls back.
            assert selectors.service_cached(service_id=wearable.pk).status == "suspended"
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        suspend_read_and_roll_back()
    # The next change must not bring back the token the rolled-back one had.
    services.organisation_create(
        name="Uusi Oy", business_id="1572860-0", contact_email="uusi@example.fi"
    )

    assert selectors.service_cached(service_id=wearable.pk).status == Service.Status.APPROVED


def test_a_data_type_retitled_in_the_admin_shows_in_service_cached(
    admin_client, wearable, data_types
):
    steps = data_types["wellbeing.steps"]
    selectors.service_cached(service_id=wearable.pk)

    admin_client.post(
        f"/admin/registry/datatype/{steps.pk}/change/", data_type_form(steps, title_en="Paces")
    )

    offered = selectors.service_cached(service_id=wearable.pk).offered_types.all()
    assert {t.key: t.title_en for t in offered}["wellbeing.steps"] == "Paces"


@pytest.mark.postgres
def test_the_operating_guides_sql_gives_a_new_generation(wearable):
    text = (DOCS / "operating.md").read_text()
    section = text.split("## Reviewing services", 1)[1].split("\n## ", 1)[0]
    [statement] = re.findall(r"^```sql\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    selectors.service_cached(service_id=wearable.pk)
    Service.objects.filter(pk=wearable.pk).update(status=Service.Status.SUSPENDED)

    with connection.cursor() as cursor:
        cursor.execute(statement)

    assert selectors.service_cached(service_id=wearable.pk).status == Service.Status.SUSPENDED
