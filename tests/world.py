"""One of everything, for tests that go over the whole operator at once.

The authorization matrix and the API fuzz need the whole cast, each with its way
in (a browser session or an API token), and a real object for every kind of id
a URL can carry: consent requests, a consent, a link, a receipt, a transfer, a
credential, and a row of every model the admin shows. `build_world` makes them
through the services, as residents, providers and staff would, inside whatever
transaction the caller holds; nothing is enqueued before that commits.
"""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from consent.models import Consent, ConsentRequest, Receipt, ServiceLink
from ledger import checkpoints
from ledger.models import Checkpoint, LogEntry, SigningKey
from registry import services as registry_services
from registry.models import AuditEvent, DataType, Organisation, Provider, Service
from relay import services as relay_services
from relay.models import Transfer
from tests import factories
from webhooks.models import Notification

# Every scope a provider's client may ask for: the API personas hold them all, so
# whatever they are refused is refused for who they are, not for a missing scope.
ALL_SCOPES = " ".join(
    [
        "services:read", "services:write", "consents:request", "consents:read",
        "links:write", "transfers:write", "transfers:read",
    ]
)  # fmt: skip

# The hosts the world's services name, and the public addresses they resolve to.
DNS = {
    "wearable.example.fi": "93.184.215.14",
    "sink.example.fi": "93.184.215.15",
    "care.example.fi": "93.184.215.17",
}


@dataclass(frozen=True)
class Persona:
    """Someone who calls the operator: a browser login (`user`), an API token, or neither."""

    name: str
    user: User | None = None
    token: str | None = None

    def client(self) -> Client:
        """A test client that makes this persona's requests; it never raises a view's error."""
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        client = Client(raise_request_exception=False, headers=headers)
        if self.user is not None:
            client.force_login(self.user)
        return client


@dataclass
class World:
    personas: dict[str, Persona]
    wearable: Service  # the source's approved source
    wellbeing: Service  # the sink's approved sink
    pending: Service  # the source's service that staff have not approved yet
    care: Service  # the other organisation's approved sink
    open_request: ConsentRequest  # no resident has opened it yet
    request: ConsentRequest  # Aino opened it and approved it
    consent: Consent  # Aino's, active
    link: ServiceLink  # Aino's link to the wearable
    receipt: Receipt  # the receipt of Aino's consent
    transfer: Transfer  # asked for by the sink under Aino's consent
    checkpoint: Checkpoint  # the log's, signed after all of the above
    credential: Any  # a spare API credential of the sink's organisation
    admin_objects: dict[type[Model], Model] = field(default_factory=dict)


def build_world() -> World:
    """The cast and one of everything; the caller provides the transaction and the settings."""
    factories.make_data_types()
    staff = factories.make_user("staff", is_staff=True, is_superuser=True)
    aino, eero = factories.make_user("aino"), factories.make_user("eero")
    auditor = factories.make_auditor()
    auditors = Group.objects.get(name="auditors")
    espoo = factories.make_provider(
        name="Espoon kaupunki", business_id="0101263-6", username="espoo"
    )
    askel = factories.make_provider(
        name="Askel Wearables Oy", business_id="2345678-0", username="askel"
    )
    vantaa = factories.make_provider(
        name="Vantaan kaupunki", business_id="0124610-9", username="vantaa"
    )

    wearable = factories.register_service(askel, factories.source_spec(), approve_by=staff)
    pending = factories.register_service(askel, factories.source_spec(slug="wearable-beta"))
    wellbeing = factories.register_service(
        espoo, factories.sink_spec(webhook_url="https://sink.example.fi/hooks"), approve_by=staff
    )
    care = factories.register_service(
        vantaa,
        factories.sink_spec(
            slug="care",
            privacy_policy_url="https://care.example.fi/privacy",
            sink={"delivery_url": "https://care.example.fi/in", "data_types": ["wellbeing.steps"]},
        ),
        approve_by=staff,
    )

    open_request = factories.request_consent(sink=wellbeing, source=wearable, state="open")
    request = factories.request_consent(sink=wellbeing, source=wearable)
    link = factories.link_resident(aino, wearable)
    consent = factories.grant_consent(request, aino)
    request.refresh_from_db()
    transfer, _created = relay_services.transfer_request(
        consent=consent, organisation=espoo.organisation
    )
    checkpoint = checkpoints.checkpoint_sign()
    credential, _secret = registry_services.credential_create(provider=espoo, name="spare")

    personas = {
        "anonymous": Persona("anonymous"),
        "aino": Persona("aino", user=aino),
        "eero": Persona("eero", user=eero),
        "sink_browser": Persona("sink_browser", user=espoo.user),
        "sink_api": Persona("sink_api", token=factories.access_token(espoo, ALL_SCOPES)),
        "source_api": Persona("source_api", token=factories.access_token(askel, ALL_SCOPES)),
        "other_api": Persona("other_api", token=factories.access_token(vantaa, ALL_SCOPES)),
        "other_browser": Persona("other_browser", user=vantaa.user),
        "auditor": Persona("auditor", user=auditor),
        "auditor_api": Persona("auditor_api", token=factories.auditor_token(auditor)),
        "staff": Persona("staff", user=staff),
    }
    world = World(
        personas=personas, wearable=wearable, wellbeing=wellbeing, pending=pending, care=care,
        open_request=open_request, request=request, consent=consent, link=link,
        receipt=consent.receipts.get(), transfer=transfer, checkpoint=checkpoint,
        credential=credential,
    )  # fmt: skip
    world.admin_objects = _admin_objects(world, aino=aino, auditors=auditors, askel=askel)
    return world


def _admin_objects(world: World, *, aino: User, auditors: Group, askel: Provider) -> dict:
    """A row of every model the admin shows, by model; the OAuth2 rows that the client
    credentials flow never makes (grants, ID and refresh tokens) are made here."""
    application = world.credential
    soon = timezone.now() + timedelta(hours=1)
    access = AccessToken.objects.filter(application__user=askel.user).first()
    grant = Grant.objects.create(
        user=aino, code=secrets.token_urlsafe(16), application=application, expires=soon,
        redirect_uri="https://sink.example.fi/back", scope="services:read",
    )  # fmt: skip
    id_token = IDToken.objects.create(user=aino, application=application, expires=soon, scope="")
    refresh = RefreshToken.objects.create(
        user=aino, token=secrets.token_urlsafe(16), application=application
    )
    return {
        Group: auditors,
        User: aino,
        type(application): application,
        AccessToken: access,
        Grant: grant,
        IDToken: id_token,
        RefreshToken: refresh,
        LogEntry: world.receipt.entry,
        Checkpoint: Checkpoint.objects.first(),
        SigningKey: SigningKey.objects.first(),
        Organisation: askel.organisation,
        Provider: askel,
        DataType: DataType.objects.get(key="wellbeing.steps"),
        Service: world.wearable,
        AuditEvent: AuditEvent.objects.filter(service=world.wearable).first(),
        Notification: Notification.objects.first(),
        Consent: world.consent,
        ConsentRequest: world.request,
        Receipt: world.receipt,
        ServiceLink: world.link,
        Transfer: world.transfer,
    }
