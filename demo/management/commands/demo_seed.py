"""Seed the demo: data types, the demo services (approved), and demo logins.

Safe to run again: it reuses what exists and the secrets already written to
var/demo.json, so the logins printed by `make run` keep working.
"""

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand
from django.db import transaction
from oauth2_provider.models import get_application_model

from ledger import keys
from registry import services
from registry.generation import generation_bump
from registry.models import DataType, Organisation, Provider, Service
from registry.selectors import credential_list

Application = get_application_model()

if TYPE_CHECKING:
    from django.contrib.auth.models import User

UserModel = get_user_model()

DATA_TYPES = [
    {
        "key": "wellbeing.steps",
        "title_fi": "Päivittäiset askeleet", "title_sv": "Dagliga steg", "title_en": "Daily steps",
        "description_fi": "Askelmäärä päivittäin.", "description_sv": "Antal steg per dag.",
        "description_en": "The number of steps taken each day.",
        "sensitive": False,
    },
    {
        "key": "wellbeing.heart_rate",
        "title_fi": "Leposyke", "title_sv": "Vilopuls", "title_en": "Resting heart rate",
        "description_fi": "Leposyke päivittäin. Terveystieto.",
        "description_sv": "Vilopuls per dag. Hälsouppgift.",
        "description_en": "Resting heart rate each day. Health data.",
        "sensitive": True,
    },
    {
        "key": "city.contact_details",
        "title_fi": "Yhteystiedot", "title_sv": "Kontaktuppgifter", "title_en": "Contact details",
        "description_fi": "Osoite, puhelinnumero ja sähköposti.",
        "description_sv": "Adress, telefonnummer och e-post.",
        "description_en": "Address, phone number and email.",
        "sensitive": False,
    },
    {
        "key": "sports.visits",
        "title_fi": "Liikuntakäynnit", "title_sv": "Idrottsbesök", "title_en": "Sports visits",
        "description_fi": "Uimahalli- ja kuntosalikäynnit päivittäin.",
        "description_sv": "Besök i simhallar och gym per dag.",
        "description_en": "Visits to the city's swimming halls and gyms each day.",
        "sensitive": False,
    },
    {
        "key": "health.blood_pressure",
        "title_fi": "Verenpaine", "title_sv": "Blodtryck", "title_en": "Blood pressure",
        "description_fi": "Terveysasemalla mitattu verenpaine. Terveystieto.",
        "description_sv": "Blodtryck uppmätt på en hälsostation. Hälsouppgift.",
        "description_en": "Blood pressure measured at a health centre. Health data.",
        "sensitive": True,
    },
    {
        "key": "city.address_history",
        "title_fi": "Osoitehistoria", "title_sv": "Adresshistorik", "title_en": "Address history",
        "description_fi": "Aiemmat osoitteet kunnassa, muuttopäivineen.",
        "description_sv": "Tidigare adresser i kommunen, med flyttdatum.",
        "description_en": "Earlier addresses in the municipality, with moving dates.",
        "sensitive": False,
    },
    {
        "key": "library.loans",
        "title_fi": "Kirjastolainat", "title_sv": "Bibliotekslån", "title_en": "Library loans",
        "description_fi": "Kirjastolainojen määrä vuosittain.",
        "description_sv": "Antal bibliotekslån per år.",
        "description_en": "The number of library loans each year.",
        "sensitive": False,
    },
]  # fmt: skip
ESPOO = {"name": "Espoon kaupunki", "business_id": "0101263-6",
         "contact_email": "tietosuoja@espoo.example"}  # fmt: skip
HELSINKI = {"name": "Helsingin kaupunki", "business_id": "0201256-6",
            "contact_email": "tietosuoja@hel.example"}  # fmt: skip


# The wellbeing service's one algorithm, as its consent screen and transparency page show it.
ACTIVITY_LEVEL = {
    "name": {"fi": "Aktiivisuustaso", "sv": "Aktivitetsnivå", "en": "Activity level"},
    "purpose": {
        "fi": "Ehdottaa sinulle sopivaa liikuntaryhmää.",
        "sv": "Föreslår en motionsgrupp som passar dig.",
        "en": "Suggests an exercise group that suits you.",
    },
    "data_types": ["wellbeing.steps", "sports.visits"],
    "logic": {
        "fi": "Viikon keskimääräiset päivittäiset askeleet ja liikuntakäynnit jaetaan kolmeen "
              "tasoon: alle 5 000 askelta ja alle kaksi käyntiä, 5 000 - 10 000 askelta tai "
              "2-4 käyntiä, ja enemmän.",
        "sv": "Veckans genomsnittliga dagliga steg och motionsbesök delas in i tre nivåer: "
              "under 5 000 steg och under två besök, 5 000 - 10 000 steg eller två till fyra "
              "besök, och mer.",
        "en": "The week's average daily steps and sports visits are split into three levels: "
              "under 5,000 steps and under two visits, 5,000 to 10,000 steps or two to four "
              "visits, and more.",
    },
    "human_oversight": {
        "fi": "Liikuntaohjaaja tarkistaa jokaisen ehdotuksen ennen kuin se lähetetään sinulle.",
        "sv": "En motionshandledare granskar varje förslag innan det skickas till dig.",
        "en": "An exercise instructor checks every suggestion before it is sent to you.",
    },
    "non_discrimination": {
        "fi": "Tasot eivät käytä ikää, sukupuolta eikä terveystietoja; ryhmään voi aina "
              "valita toisen tason itse.",
        "sv": "Nivåerna använder inte ålder, kön eller hälsouppgifter; du kan alltid själv "
              "välja en annan nivå.",
        "en": "The levels use neither age, gender nor health data; you can always choose "
              "another level yourself.",
    },
    "register_url": "https://espoo.example/algoritmit/aktiivisuustaso",
}  # fmt: skip


def demo_services(demo_base: str) -> list[dict]:
    return [
        {
            "organisation": {"name": "Askel Wearables Oy", "business_id": "2345678-0",
                             "contact_email": "privacy@askel.example"},
            "username": "askel",
            "spec": {
                "slug": "wearable",
                "name": {"fi": "Askel-rannekello", "sv": "Askel-armbandsklocka",
                         "en": "Askel smartwatch"},
                "description": {
                    "fi": "Rannekello, joka mittaa askeleet ja leposykkeen.",
                    "sv": "En armbandsklocka som mäter steg och vilopuls.",
                    "en": "A smartwatch that measures steps and resting heart rate.",
                },
                "privacy_policy_url": "https://askel.example/privacy",
                "source": {"fetch_url": f"{demo_base}/wearable/data",
                           "link_url": f"{demo_base}/wearable/link",
                           "data_types": ["wellbeing.steps", "wellbeing.heart_rate"]},
                "sink": None,
                "webhook_url": f"{demo_base}/wearable/webhook",
                "transparency": {"automated_decisions": False, "profiling": False},
            },
        },
        {
            "organisation": ESPOO,
            "username": "espoo",
            "spec": {
                "slug": "wellbeing",
                "name": {"fi": "Espoon hyvinvointipalvelu", "sv": "Esbo välmående-tjänst",
                         "en": "Espoo wellbeing service"},
                "description": {
                    "fi": "Kaupungin hyvinvointiohjelma, joka tukee liikkumista.",
                    "sv": "Stadens välmåendeprogram som stöder motion.",
                    "en": "The city's wellbeing programme that encourages exercise.",
                },
                "privacy_policy_url": "https://espoo.example/tietosuoja",
                "source": None,
                "sink": {"delivery_url": f"{demo_base}/wellbeing/deliver",
                         "data_types": ["wellbeing.steps", "wellbeing.heart_rate",
                                        "sports.visits"]},
                "webhook_url": f"{demo_base}/wellbeing/webhook",
                "transparency": {
                    "automated_decisions": False, "profiling": True,
                    "algorithm_register_url": "https://espoo.example/algoritmit",
                },
                "algorithms": [ACTIVITY_LEVEL],
            },
        },
        {
            "organisation": ESPOO,
            "username": "espoo",
            "spec": {
                "slug": "espoo-sports",
                "name": {"fi": "Espoon liikuntapalvelut", "sv": "Esbo idrottstjänster",
                         "en": "Espoo sports services"},
                "description": {
                    "fi": "Kaupungin uimahallit, kuntosalit ja terveysasemien mittaukset.",
                    "sv": "Stadens simhallar, gym och mätningar på hälsostationerna.",
                    "en": "The city's swimming halls, gyms and health centre measurements.",
                },
                "privacy_policy_url": "https://espoo.example/tietosuoja",
                "source": {"fetch_url": f"{demo_base}/sports/data",
                           "link_url": f"{demo_base}/sports/link",
                           "data_types": ["sports.visits", "health.blood_pressure"]},
                "sink": None,
                "webhook_url": f"{demo_base}/sports/webhook",
                "transparency": {"automated_decisions": False, "profiling": False},
            },
        },
        {
            "organisation": HELSINKI,
            "username": "helsinki",
            "spec": {
                "slug": "helsinki-records",
                "name": {"fi": "Helsingin asukastiedot", "sv": "Helsingfors invånaruppgifter",
                         "en": "Helsinki resident records"},
                "description": {
                    "fi": "Kaupungin tiedot asukkaasta: osoitehistoria ja kirjastolainat.",
                    "sv": "Stadens uppgifter om invånaren: adresshistorik och bibliotekslån.",
                    "en": "The city's records of a resident: address history and library loans.",
                },
                "privacy_policy_url": "https://hel.example/tietosuoja",
                "source": {"fetch_url": f"{demo_base}/helsinki/data",
                           "link_url": f"{demo_base}/helsinki/link",
                           "data_types": ["city.address_history", "library.loans"]},
                "sink": None,
                "webhook_url": f"{demo_base}/helsinki/webhook",
                "transparency": {"automated_decisions": False, "profiling": False},
            },
        },
        {
            "organisation": ESPOO,
            "username": "espoo",
            "spec": {
                "slug": "espoo-newcomer",
                "name": {"fi": "Espoon uuden asukkaan palvelu",
                         "sv": "Esbo tjänst för nya invånare", "en": "Espoo newcomer service"},
                "description": {
                    "fi": "Toivottaa Espooseen muuttavan tervetulleeksi hänen historiansa avulla.",
                    "sv": "Välkomnar den som flyttar till Esbo med hjälp av hens historik.",
                    "en": "Welcomes someone moving to Espoo with the help of their history.",
                },
                "privacy_policy_url": "https://espoo.example/tietosuoja",
                "source": None,
                "sink": {"delivery_url": f"{demo_base}/newcomer/deliver",
                         "data_types": ["city.address_history", "library.loans"]},
                "webhook_url": f"{demo_base}/newcomer/webhook",
                "transparency": {"automated_decisions": False, "profiling": False},
            },
        },
    ]  # fmt: skip


class Command(BaseCommand):
    help = "Seed the demo services and logins; write them to var/demo.json."

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(settings.VAR_DIR) / "demo.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        demo_base = os.environ.get("OMADATA_DEMO_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
        keys.active_key()  # the operator's signing key exists, and is published, from the start
        with transaction.atomic():
            for spec in DATA_TYPES:
                DataType.objects.update_or_create(key=spec["key"], defaults=spec)
            # Some rows here are written directly, not through registry.services: the new
            # generation commits with this whole transaction, so one bump covers them all.
            generation_bump()
            result = {
                "resident": self._login(saved, "resident", "aino"),
                "auditor": self._login(saved, "auditor", "auditor"),
                "staff": self._login(saved, "staff", "staff"),
                "services": {},
            }
            staff = UserModel.objects.get(username="staff")
            auditor = UserModel.objects.get(username="auditor")
            services.auditor_grant(user=auditor, actor=staff)
            result["auditor"] |= self._auditor_credential(saved.get("auditor"), auditor, staff)
            for demo in demo_services(demo_base):
                slug = demo["spec"]["slug"]
                result["services"][slug] = self._service(saved, demo, staff)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(result, handle, indent=2)
        self.stdout.write(f"Demo data ready; logins and credentials are in {path}")

    def _login(self, saved: dict, role: str, username: str) -> dict:
        password = (saved.get(role) or {}).get("password") or secrets.token_urlsafe(9)
        user, _created = UserModel.objects.get_or_create(username=username)
        if role == "staff":
            user.is_staff = user.is_superuser = True
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        return {"username": username, "password": password}

    def _service(self, saved: dict, demo: dict, staff: "User") -> dict:
        org = Organisation.objects.filter(business_id=demo["organisation"]["business_id"]).first()
        if org is None:
            org = services.organisation_create(**demo["organisation"])
            org.verified = True
            org.save(update_fields=["verified"])
        provider = Provider.objects.filter(organisation=org).first() or services.provider_create(
            organisation=org, username=demo["username"],
            email=demo["organisation"]["contact_email"], password=secrets.token_urlsafe(12),
        )  # fmt: skip
        spec = demo["spec"]
        service = Service.objects.filter(slug=spec["slug"]).first()
        if service is None:
            service = services.service_register(organisation=org, actor=staff, spec=spec)
        else:
            service = services.service_update(service=service, actor=staff, spec=spec)
        services.service_approve(service=service, actor=staff)
        return self._credential(saved.get("services", {}).get(spec["slug"]), provider)

    def _auditor_credential(self, saved: dict | None, auditor: "User", staff: "User") -> dict:
        """The auditor's API client (scope audit:read), kept from the last run if it works."""
        if saved and saved.get("client_id"):
            existing = Application.objects.filter(
                user=auditor, client_id=saved["client_id"]
            ).first()
            if existing and check_password(saved["client_secret"], existing.client_secret):
                return {"client_id": saved["client_id"], "client_secret": saved["client_secret"]}
        application, secret = services.auditor_credential_create(
            auditor=auditor, name="demo auditor", actor=staff
        )
        return {"client_id": application.client_id, "client_secret": secret}

    def _credential(self, saved: dict | None, provider: Provider) -> dict:
        if saved:
            existing = (
                credential_list(organisation=provider.organisation)
                .filter(client_id=saved["client_id"])
                .first()
            )
            if existing and check_password(saved["client_secret"], existing.client_secret):
                return saved
        application, secret = services.credential_create(provider=provider, name="demo")
        return {"client_id": application.client_id, "client_secret": secret}
