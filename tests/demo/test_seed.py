"""demo_seed registers the demo's five services, each with its credentials; safe to repeat."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from oauth2_provider.models import get_application_model

from registry.models import DataType, Organisation, Service

pytestmark = pytest.mark.django_db
SLUGS = {"wearable", "wellbeing", "espoo-sports", "helsinki-records", "espoo-newcomer"}


@pytest.fixture
def seeded(settings, tmp_path, loopback_allowed) -> Path:
    settings.VAR_DIR = tmp_path
    call_command("demo_seed", stdout=io.StringIO())
    return tmp_path / "demo.json"


def test_each_city_registers_its_own_services(seeded):
    owners = {s.slug: s.organisation.business_id for s in Service.objects.all()}

    assert owners == {
        "wearable": "2345678-0", "wellbeing": "0101263-6", "espoo-sports": "0101263-6",
        "espoo-newcomer": "0101263-6", "helsinki-records": "0201256-6",
    }  # fmt: skip
    assert Organisation.objects.get(business_id="0201256-6").name == "Helsingin kaupunki"
    assert (
        set(Service.objects.filter(status=Service.Status.APPROVED).values_list("slug", flat=True))
        == SLUGS
    )


def test_each_service_has_its_credentials_in_demo_json(seeded):
    services = json.loads(seeded.read_text())["services"]

    assert set(services) == SLUGS
    assert len({s["client_id"] for s in services.values()}) == len(SLUGS)


def test_the_new_data_types_have_titles_in_three_languages(seeded):
    keys = ["sports.visits", "health.blood_pressure", "city.address_history", "library.loans"]
    types = {t.key: t for t in DataType.objects.filter(key__in=keys)}

    assert set(types) == set(keys)
    assert all(t.title_fi and t.title_sv and t.title_en for t in types.values())
    assert {k for k, t in types.items() if t.sensitive} == {"health.blood_pressure"}


def test_seeding_again_keeps_what_there_is(seeded):
    before = seeded.read_text()
    counts = _counts()

    call_command("demo_seed", stdout=io.StringIO())

    assert seeded.read_text() == before
    assert _counts() == counts


def _counts() -> tuple[int, ...]:
    models = (Organisation, Service, get_application_model(), DataType)
    return tuple(model.objects.count() for model in models)
