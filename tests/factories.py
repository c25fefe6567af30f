"""Plain functions that make what tests need: the cast, specs, services, links and consents.

Each conftest.py builds its fixtures from these, in the open; test modules import
them directly. Nothing here is a fixture, and nothing here reads a fixture.
"""

import base64
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Consent, ConsentRequest, ServiceLink
from registry import services as registry_services
from registry.models import DataType, Service

PASSWORD = "correct horse battery"
# Users' passwords hashed fast in tests; client secrets with the hasher they have in production.
FAST_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "omadata.hashers.ClientSecretHasher",
]
# The consent notice as the resident saw it: its SHA-256 goes into the receipt.
NOTICE = "<p>Espoo asks for your steps.</p>"


# -- the cast ------------------------------------------------------------------


def make_user(username: str, **fields):
    """A user who logs in with PASSWORD: a resident, or staff with `is_staff=True`."""
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)


def make_provider(*, name: str, business_id: str, username: str):
    """An organisation and its provider account, which registers services."""
    organisation = registry_services.organisation_create(
        name=name, business_id=business_id, contact_email=f"{username}@example.fi"
    )
    return registry_services.provider_create(
        organisation=organisation, username=username, email=f"{username}@example.fi",
        password=PASSWORD,
    )  # fmt: skip


def make_data_types() -> dict[str, DataType]:
    """Steps, heart rate (sensitive) and contact details, by key."""

    def make(key: str, sensitive: bool = False) -> DataType:
        title = key.split(".")[-1]
        return DataType.objects.create(
            key=key, title_fi=title, title_sv=title, title_en=title, sensitive=sensitive
        )

    return {
        "wellbeing.steps": make("wellbeing.steps"),
        "wellbeing.heart_rate": make("wellbeing.heart_rate", sensitive=True),
        "city.contact_details": make("city.contact_details"),
    }


# -- specs, as a provider's client sends them -----------------------------------


def source_spec(slug: str = "wearable", **changes) -> dict:
    """The Askel watch: a source of steps and heart rate at wearable.example.fi."""
    spec = {
        "slug": slug,
        "name": {"fi": "Askel-kello", "sv": "Askel-klocka", "en": "Askel watch"},
        "description": {"fi": "Kello.", "sv": "Klocka.", "en": "A watch."},
        "privacy_policy_url": "https://wearable.example.fi/privacy",
        "source": {
            "fetch_url": "https://wearable.example.fi/data",
            "link_url": "https://wearable.example.fi/link",
            "data_types": ["wellbeing.steps", "wellbeing.heart_rate"],
        },
        "webhook_url": "https://wearable.example.fi/hooks",
    }
    spec.update(changes)
    return spec


def city_spec(slug: str = "city-records", **changes) -> dict:
    """A city's records: a source of contact details at city.example.fi, with a webhook."""
    spec = {
        "slug": slug,
        "name": {"fi": "Kaupungin tiedot", "sv": "Stadens uppgifter", "en": "City records"},
        "description": {"fi": "Rekisteri.", "sv": "Register.", "en": "A register."},
        "privacy_policy_url": "https://city.example.fi/privacy",
        "source": {
            "fetch_url": "https://city.example.fi/data",
            "link_url": "https://city.example.fi/link",
            "data_types": ["city.contact_details"],
        },
        "webhook_url": "https://city.example.fi/hooks",
    }
    spec.update(changes)
    return spec


def sink_spec(slug: str = "wellbeing", **changes) -> dict:
    """Espoo's wellbeing programme: a sink of steps at sink.example.fi, with no webhook."""
    spec = {
        "slug": slug,
        "name": {"fi": "Hyvinvointi", "sv": "Välmående", "en": "Wellbeing"},
        "description": {"fi": "Ohjelma.", "sv": "Program.", "en": "A programme."},
        "privacy_policy_url": "https://sink.example.fi/privacy",
        "sink": {
            "delivery_url": "https://sink.example.fi/deliver",
            "data_types": ["wellbeing.steps"],
        },
    }
    spec.update(changes)
    return spec


def algorithm_spec(**changes) -> dict:
    """An algorithm that ranks residents' daily steps into activity levels."""
    spec = {
        "name": {"fi": "Aktiivisuustaso", "sv": "Aktivitetsnivå", "en": "Activity level"},
        "purpose": {
            "fi": "Ehdottaa sopivaa liikuntaryhmää.",
            "sv": "Föreslår en passande motionsgrupp.",
            "en": "Suggests a suitable exercise group.",
        },
        "data_types": ["wellbeing.steps"],
        "logic": {
            "fi": "Viikon keskimääräiset askeleet jaetaan kolmeen tasoon.",
            "sv": "Veckans genomsnittliga steg delas in i tre nivåer.",
            "en": "The week's average daily steps are split into three levels.",
        },
        "human_oversight": {
            "fi": "Ohjaaja tarkistaa jokaisen ehdotuksen.",
            "sv": "En handledare granskar varje förslag.",
            "en": "An instructor checks every suggestion.",
        },
        "non_discrimination": {
            "fi": "Ikää, sukupuolta tai terveyttä ei käytetä.",
            "sv": "Ålder, kön eller hälsa används inte.",
            "en": "Age, gender and health are not used.",
        },
        "register_url": "https://algoritmit.espoo.fi/aktiivisuustaso",
    }
    spec.update(changes)
    return spec


def automated(**changes) -> dict:
    """A service's `transparency` when it makes automated decisions."""
    return {
        "automated_decisions": True,
        "profiling": False,
        "algorithm_register_url": "https://algoritmit.espoo.fi/hyvinvointi",
        **changes,
    }


def request_spec(source: Service, **changes) -> dict:
    """A sink's request for daily steps from `source`, for 90 days."""
    spec = {
        "source": source.id,
        "data_types": ["wellbeing.steps"],
        "purpose": {
            "fi": "Liikuntaohjelma.",
            "sv": "Motionsprogram.",
            "en": "An exercise programme.",
        },
        "purpose_category": "wellbeing",
        "valid_until": timezone.now() + timedelta(days=90),
        "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
        "return_url": "https://sink.example.fi/back",
        "state": "xyz",
        "subject_reference": "espoo-user-17",
    }
    spec.update(changes)
    return spec


def sources_spec(parts: list[tuple[Service, list[str]]], **changes) -> dict:
    """request_spec in the `sources` form: each (source, data type keys) in order."""
    spec = request_spec(parts[0][0], **changes)
    del spec["source"], spec["data_types"]
    spec["sources"] = [{"source": source.id, "data_types": keys} for source, keys in parts]
    return spec


# -- what the services and residents do --------------------------------------------


def register_service(provider, spec: dict, *, approve_by=None) -> Service:
    """Register a service through the service layer; approve it if `approve_by` (staff) is given."""
    full = {"transparency": {"automated_decisions": False, "profiling": False}, **spec}
    service = registry_services.service_register(
        organisation=provider.organisation, actor=provider.user, spec=full
    )
    if approve_by is not None:
        service = registry_services.service_approve(service=service, actor=approve_by)
    return service


def request_consent(*, sink: Service, source: Service, **changes) -> ConsentRequest:
    """The sink asks for consent with request_spec(source, **changes)."""
    return consent_services.consent_request_create(sink=sink, spec=request_spec(source, **changes))


def request_consent_over(
    *, sink: Service, parts: list[tuple[Service, list[str]]], **changes
) -> ConsentRequest:
    """The sink asks for one consent over several sources: each (source, data type keys)."""
    return consent_services.consent_request_create(sink=sink, spec=sources_spec(parts, **changes))


def link_resident(resident, service: Service, *, reference: str = "watch-owner-1") -> ServiceLink:
    """Link `resident` to `service` as the pages do: started in the resident's session, the
    service confirms the token, and the browser comes back to that session with the code."""
    started = consent_services.link_start(
        resident=resident, service=service, return_to="https://x/back"
    )
    code = consent_services.link_confirm(
        service=service, token=started.token, reference=reference
    ).code
    attempt = consent_services.link_return(resident=resident, code=code, started={started.attempt})
    return attempt.link


def grant_consent(request: ConsentRequest, resident, *, language: str = "fi") -> Consent:
    """`resident` approves `request` after reading NOTICE."""
    return consent_services.consent_grant(
        request=request, resident=resident, language=language, notice_text=NOTICE
    )


# -- OAuth2 -------------------------------------------------------------------------


def basic_auth(client_id: str, secret: str) -> str:
    """An HTTP Basic Authorization header value, as OAuth2 clients send their credentials."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def access_token(provider, scope: str) -> str:
    """A new credential's access token from /o/token/, got the way a service gets one."""
    application, secret = registry_services.credential_create(provider=provider, name="test")
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


# Every scope a provider's client may hold.
ALL_PROVIDER_SCOPES = (
    "services:read services:write consents:request consents:read links:write "
    "transfers:write transfers:read"
)


def make_auditor(username: str = "auditor"):
    """A user with the auditor role, granted as staff grant it."""
    user = make_user(username)
    registry_services.auditor_grant(user=user, actor=None)
    return user


def auditor_token(auditor, scope: str = "audit:read") -> str:
    """An access token of a new API client of `auditor`, got from /o/token/."""
    application, secret = registry_services.auditor_credential_create(
        auditor=auditor, name="audit tool", actor=None
    )
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def api_as(provider, scope: str = "services:read services:write") -> APIClient:
    """An API client holding a token for `provider` with the given scopes."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(provider, scope)}")
    return api
