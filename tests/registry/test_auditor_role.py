"""Staff grant and revoke the auditor role: in the admin or with a command, each an audit event."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from oauth2_provider.models import get_application_model

from ledger.access import AUDITORS_GROUP, is_auditor
from registry import services
from registry.models import AuditEvent, Provider
from tests.factories import make_auditor, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/auth/user/"


def _act(admin_client, action: str, *users) -> str:
    response = admin_client.post(
        CHANGELIST, {"action": action, "_selected_action": [u.pk for u in users]}, follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip
    return response.content.decode()


def test_staff_grant_the_role_in_the_admin_with_an_audit_event(admin_client, aino):
    page = _act(admin_client, "grant_auditor", aino)

    assert is_auditor(aino)
    assert "Users given the auditor role: 1." in page
    event = AuditEvent.objects.get(action="auditor.granted")
    assert event.detail["username"] == "aino"
    assert event.actor.username == "admin"


def test_staff_revoke_the_role_and_its_clients_in_the_admin(admin_client):
    auditor = make_auditor()
    application, _secret = services.auditor_credential_create(
        auditor=auditor, name="tool", actor=None
    )

    _act(admin_client, "revoke_auditor", auditor)

    assert not is_auditor(auditor)
    assert not get_application_model().objects.filter(pk=application.pk).exists()
    event = AuditEvent.objects.get(action="auditor.revoked")
    assert event.detail["client_ids"] == [application.client_id]


def test_granting_twice_records_one_event(admin_client, aino):
    _act(admin_client, "grant_auditor", aino)
    _act(admin_client, "grant_auditor", aino)

    assert AuditEvent.objects.filter(action="auditor.granted").count() == 1


def test_a_providers_user_cannot_be_made_an_auditor(admin_client, source_provider):
    page = _act(admin_client, "grant_auditor", source_provider.user)

    assert "cannot also be an auditor" in page
    assert not is_auditor(source_provider.user)
    assert not AuditEvent.objects.filter(action="auditor.granted").exists()


def test_an_auditor_cannot_be_made_a_provider_in_the_admin(admin_client, source_provider):
    auditor = make_auditor()

    response = admin_client.post(
        "/admin/registry/provider/add/",
        {"user": auditor.pk, "organisation": source_provider.organisation.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200  # the form again, with its error
    assert "revoke the role first" in response.content.decode()
    assert not Provider.objects.filter(user=auditor).exists()


def test_the_user_form_does_not_change_groups(admin_client):
    user = make_user("someone")
    Group.objects.get_or_create(name=AUDITORS_GROUP)
    auditors = Group.objects.get(name=AUDITORS_GROUP)

    admin_client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {"username": "someone", "is_active": "on", "groups": [auditors.pk],
         "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )  # fmt: skip

    assert not is_auditor(user)


def test_the_command_creates_an_auditor_with_a_client(capsys):
    call_command("auditor_create", "--username", "dpo", "--client", "dpo tools")

    out = capsys.readouterr().out
    user = get_user_model().objects.get(username="dpo")
    assert is_auditor(user)
    assert "Password: " in out
    assert "client_secret: " in out
    assert get_application_model().objects.get(user=user).name == "dpo tools"
    assert AuditEvent.objects.filter(action="auditor.granted").count() == 1


def test_the_command_gives_an_existing_user_the_role(capsys, aino):
    call_command("auditor_create", "--username", "aino", "--existing")

    assert is_auditor(aino)
    assert "Password" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--username", "aino"], "exists already"),
        (["--username", "nobody", "--existing"], "No user is called nobody"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(aino, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("auditor_create", *arguments)
