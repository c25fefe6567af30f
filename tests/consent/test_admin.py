"""Staff can open every model's pages in the admin, with evidence of every kind in them."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.urls import reverse

from relay import services as relay_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def evidence(consent):
    """A consent with its receipts, links and notifications, and a transfer under it."""
    relay_services.transfer_request(consent=consent, organisation=consent.sink.organisation)
    return consent


def _admin_models():
    return [model for model in apps.get_models() if admin.site.is_registered(model)]


@pytest.mark.parametrize("model", _admin_models(), ids=lambda model: model._meta.label)
def test_staff_open_every_changelist_and_its_first_row(client, staff, evidence, model):
    client.force_login(staff)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    first = model.objects.first()
    if first is not None:
        # Quoted as the admin's own links are: a signing key's id may hold "_2C", which
        # the admin would otherwise read back as a ",".
        assert client.get(reverse(f"{name}_change", args=[quote(first.pk)])).status_code == 200


def test_a_data_type_named_only_by_a_consent_cannot_be_deleted(client, staff, consent):
    steps = consent.data_types.get(key="wellbeing.steps")
    consent.source_parts()[0].service.offered_types.remove(steps)
    consent.sink.accepted_types.remove(steps)
    client.force_login(staff)

    answer = client.post(
        f"/admin/registry/datatype/{steps.pk}/delete/", {"post": "yes"}, HTTP_ACCEPT_LANGUAGE="en"
    )

    assert answer.status_code == 200
    assert "<li>consent: " in answer.content.decode()
    assert "<li>consent request: " in answer.content.decode()
    assert type(steps).objects.filter(pk=steps.pk).exists()
