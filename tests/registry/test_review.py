"""Staff review of services, what sends a service back for review, and provider set-up."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_application_model

from registry import services
from registry.models import AuditEvent, Organisation, Provider, Service
from registry.ytunnus import is_valid_business_id
from tests.factories import api_as, basic_auth, register_service, sink_spec, source_spec

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/registry/service/"
User = get_user_model()


def events(service, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(service=service, action=action).order_by("id"))


def change_of(event: AuditEvent) -> dict:
    """What an update event says changed, without the names it keeps of who and for whom."""
    return {key: event.detail[key] for key in ("fields", "review_reopened")}


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def run_action(admin_client, action: str, *service_list):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(s.pk) for s in service_list], "index": 0},
    )


# -- registration and staff review ----------------------------------------------


def test_new_service_is_pending(source_provider, data_types):
    service = register_service(source_provider, source_spec())

    assert service.status == Service.Status.PENDING
    [event] = events(service, "service.registered")
    assert event.actor == source_provider.user
    assert event.organisation == source_provider.organisation


def test_staff_approve_service_with_admin_action(admin_client, staff, source_provider, data_types):
    service = register_service(source_provider, source_spec())

    response = run_action(admin_client, "approve", service)

    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == Service.Status.APPROVED
    [event] = events(service, "service.approved")
    assert event.actor == staff
    assert event.detail["previous"] == "pending"


def test_staff_suspend_service_with_admin_action(admin_client, staff, source_provider, data_types):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    response = run_action(admin_client, "suspend", service)

    assert response.status_code == 302
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED
    [event] = events(service, "service.suspended")
    assert event.actor == staff
    assert event.detail["previous"] == "approved"


def test_admin_action_changes_only_the_selected_services(
    admin_client, source_provider, sink_provider, data_types
):
    chosen = register_service(source_provider, source_spec())
    other = register_service(sink_provider, sink_spec())

    run_action(admin_client, "approve", chosen)

    other.refresh_from_db()
    assert other.status == Service.Status.PENDING
    assert events(other, "service.approved") == []


def test_approving_an_approved_service_writes_no_event(
    admin_client, staff, source_provider, data_types
):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    run_action(admin_client, "approve", service)

    assert len(events(service, "service.approved")) == 1


def test_admin_offers_no_add_for_services(admin_client):
    assert admin_client.get(CHANGELIST + "add/").status_code == 403


def test_admin_offers_no_delete_for_services(admin_client, staff, source_provider, data_types):
    service = register_service(source_provider, source_spec(), approve_by=staff)

    page = admin_client.get(f"{CHANGELIST}{service.pk}/delete/")
    run_action(admin_client, "delete_selected", service)

    assert page.status_code == 403
    assert Service.objects.filter(pk=service.pk).exists()


def test_admin_change_form_cannot_edit_a_service(admin_client, source_provider, data_types):
    service = register_service(source_provider, source_spec())

    response = admin_client.post(
        f"{CHANGELIST}{service.pk}/change/", {"status": "approved", "fetch_url": "https://x.fi/"}
    )

    assert response.status_code == 403
    service.refresh_from_db()
    assert service.status == Service.Status.PENDING
    assert service.fetch_url == "https://wearable.example.fi/data"


def test_admin_changelist_offers_only_approve_and_suspend(admin_client):
    response = admin_client.get(CHANGELIST)

    choices = [value for value, _label in response.context["action_form"].fields["action"].choices]
    assert sorted(v for v in choices if v) == ["approve", "suspend"]


# -- changes to an approved service ---------------------------------------------


@pytest.fixture
def approved(source_provider, data_types, staff):
    return register_service(source_provider, source_spec(), approve_by=staff)


def patch(api, service, body):
    response = api.patch(f"/api/v1/services/{service.pk}", body, format="json")
    assert response.status_code == 200, response.content
    return response


STEPS_AND_HEART = ["wellbeing.steps", "wellbeing.heart_rate"]
LINK = "https://wearable.example.fi/link"
NEW_FETCH_URL = {
    "source": {
        "fetch_url": "https://wearable.example.fi/v2",
        "link_url": LINK,
        "data_types": STEPS_AND_HEART,
    }
}
FEWER_TYPES = {
    "source": {
        "fetch_url": "https://wearable.example.fi/data",
        "link_url": LINK,
        "data_types": ["wellbeing.steps"],
    }
}
SAME_TYPES_REORDERED = {
    "source": {
        "fetch_url": "https://wearable.example.fi/data",
        "link_url": LINK,
        "data_types": STEPS_AND_HEART[::-1],
    }
}
ADD_SINK = {
    "sink": {"delivery_url": "https://wearable.example.fi/in", "data_types": ["wellbeing.steps"]}
}
NEW_DESCRIPTION = {"description": {"fi": "Kello.", "sv": "Klocka.", "en": "A step watch."}}
PUBLIC_EC_KEY = {
    "kty": "EC", "crv": "P-256", "kid": "k1",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (NEW_FETCH_URL, ["fetch_url"]),
        (FEWER_TYPES, ["offered_types"]),
        ({"name": {"fi": "Askel-kello", "sv": "Askel-klocka", "en": "Step watch"}}, ["name_en"]),
        ({"slug": "askel"}, ["slug"]),
        ({"privacy_policy_url": "https://wearable.example.fi/privacy-2"}, ["privacy_policy_url"]),
        ({"webhook_url": "https://hooks.example.fi/askel"}, ["webhook_url"]),
        (
            {
                "transparency": {
                    "automated_decisions": False,
                    "profiling": True,
                    "algorithm_register_url": "https://register.example.fi/askel",
                }
            },
            ["algorithm_register_url", "profiling"],
        ),
        (ADD_SINK, ["accepted_types", "delivery_url", "is_sink"]),
    ],
)
def test_reviewed_change_puts_approved_service_back_to_pending(
    source_provider, approved, change, fields
):
    response = patch(api_as(source_provider), approved, change)

    assert response.json()["status"] == "pending"
    approved.refresh_from_db()
    assert approved.status == Service.Status.PENDING
    [event] = events(approved, "service.updated")
    assert event.actor == source_provider.user
    assert change_of(event) == {"fields": fields, "review_reopened": True}


def test_reopened_service_leaves_public_list(source_provider, approved, client):
    patch(api_as(source_provider), approved, NEW_FETCH_URL)

    assert client.get("/api/v1/services").json()["results"] == []


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (NEW_DESCRIPTION, ["description_en"]),
        ({"jwks": {"keys": [PUBLIC_EC_KEY]}}, ["jwks"]),
    ],
)
def test_unreviewed_change_leaves_service_approved(source_provider, approved, change, fields):
    response = patch(api_as(source_provider), approved, change)

    assert response.json()["status"] == "approved"
    approved.refresh_from_db()
    assert approved.status == Service.Status.APPROVED
    [event] = events(approved, "service.updated")
    assert change_of(event) == {"fields": fields, "review_reopened": False}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"slug": "wearable"},
        {"name": {"fi": "Askel-kello", "sv": "Askel-klocka", "en": "Askel watch"}},
        SAME_TYPES_REORDERED,
        {"sink": None, "webhook_url": "https://wearable.example.fi/hooks", "jwks": None},
        {"transparency": {"automated_decisions": False, "profiling": False}},
    ],
)
def test_update_that_changes_nothing_writes_no_event(source_provider, approved, change):
    api = api_as(source_provider)
    count, updated_at = AuditEvent.objects.count(), approved.updated_at

    response = patch(api, approved, change)

    assert response.json()["status"] == "approved"
    approved.refresh_from_db()
    assert approved.updated_at == updated_at
    assert AuditEvent.objects.count() == count


def test_suspended_service_stays_suspended_when_changed(source_provider, approved, staff):
    services.service_suspend(service=approved, actor=staff, reason="test")

    response = patch(api_as(source_provider), approved, NEW_FETCH_URL)

    assert response.json()["status"] == "suspended"
    [event] = events(approved, "service.updated")
    assert event.detail["review_reopened"] is False


def test_pending_service_change_is_no_reopening(source_provider, data_types):
    service = register_service(source_provider, source_spec())

    patch(api_as(source_provider), service, {"slug": "askel"})

    [event] = events(service, "service.updated")
    assert change_of(event) == {"fields": ["slug"], "review_reopened": False}


# -- provider_create ------------------------------------------------------------


def provider_create(**options) -> str:
    out = io.StringIO()
    call_command("provider_create", stdout=out, **options)
    return out.getvalue()


def printed(output: str, label: str) -> str:
    [value] = [line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(label)]
    return value


ASKEL = {
    "organisation": "Askel Wearables Oy",
    "business_id": "2345678-0",
    "email": "it@askel.example.fi",
    "username": "askel",
}


def test_provider_create_creates_organisation_user_and_credential():
    output = provider_create(**ASKEL)

    organisation = Organisation.objects.get(business_id="2345678-0")
    provider = Provider.objects.get(user__username="askel")
    assert provider.organisation == organisation
    [application] = get_application_model().objects.filter(user=provider.user)
    assert printed(output, "client_id: ") == application.client_id
    assert printed(output, "client_secret: ")
    assert provider.user.check_password(printed(output, "Password: "))


def test_printed_client_secret_gets_a_token(client):
    output = provider_create(**ASKEL)

    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:read"},
        HTTP_AUTHORIZATION=basic_auth(
            printed(output, "client_id: "), printed(output, "client_secret: ")
        ),
    )

    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    organisation = client.get("/api/v1/organisation", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert organisation.json()["business_id"] == "2345678-0"


def test_provider_create_stores_the_secret_hashed():
    output = provider_create(**ASKEL)

    application = get_application_model().objects.get(client_id=printed(output, "client_id: "))
    assert application.client_secret != printed(output, "client_secret: ")


@pytest.mark.parametrize("business_id", ["2345678-1", "1234567", "1000008-0"])
def test_provider_create_with_bad_business_id_creates_nothing(business_id):
    with pytest.raises(CommandError, match="business_id"):
        provider_create(**{**ASKEL, "business_id": business_id})

    assert not Organisation.objects.exists()
    assert not User.objects.exists()
    assert not get_application_model().objects.exists()
    assert not AuditEvent.objects.exists()


def test_provider_create_with_taken_username_creates_nothing(aino):
    with pytest.raises(CommandError, match="username"):
        provider_create(**{**ASKEL, "username": "aino"})

    assert not Organisation.objects.exists()
    assert not Provider.objects.exists()
    assert not AuditEvent.objects.exists()


def test_provider_create_with_taken_business_id_creates_nothing(source_provider):
    with pytest.raises(CommandError, match="business_id"):
        provider_create(**{**ASKEL, "username": "askel2"})

    assert Organisation.objects.count() == 1
    assert not User.objects.filter(username="askel2").exists()


# -- the Finnish business ID ----------------------------------------------------


@pytest.mark.parametrize(
    "business_id", ["0101263-6", "0201256-6", "2345678-0", "1234567-1", "0000000-0"]
)
def test_valid_business_id_is_accepted(business_id):
    assert is_valid_business_id(business_id)


@pytest.mark.parametrize(
    "business_id", ["0101263-5", "0101263-7", "0201256-0", "2345678-9", "1234567-2"]
)
def test_business_id_with_wrong_check_digit_is_refused(business_id):
    assert not is_valid_business_id(business_id)


@pytest.mark.parametrize("check_digit", range(10))
def test_business_id_with_remainder_one_is_refused(check_digit):
    # 1000008 weighs 7*1 + 2*8 = 23, and 23 % 11 == 1: no ID is issued with it.
    assert not is_valid_business_id(f"1000008-{check_digit}")


@pytest.mark.parametrize(
    "business_id",
    [
        "",
        "01012636",
        "0101263 6",
        "0101263-",
        "101263-6",
        "00101263-6",
        "0101263-66",
        "0101263\u20136",  # an en dash
        "FI01012636",
        " 0101263-6",
        "0101263-6 ",
        "0101263-6\n",
        "\u0660\u0661\u0660\u0661\u0662\u0666\u0663-\u0666",  # Arabic-Indic digits
        "\uff10\uff11\uff10\uff11\uff12\uff16\uff13-\uff16",  # full-width digits
    ],
)
def test_business_id_in_wrong_format_is_refused(business_id):
    assert not is_valid_business_id(business_id)


def test_approving_an_approved_service_again_counts_and_records_nothing(
    client, staff, source_provider, data_types
):
    service = register_service(source_provider, source_spec(), approve_by=staff)
    client.force_login(staff)

    response = client.post(
        "/admin/registry/service/",
        {"action": "approve", "_selected_action": [str(service.pk)]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert "0 services approved." in response.content.decode()
    assert AuditEvent.objects.filter(service=service, action="service.approved").count() == 1
