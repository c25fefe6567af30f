"""Changes to the registry. Each validates, writes and leaves its audit event
in one transaction; views, API views, the admin and commands all call these."""

import json
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from jwcrypto import jwk
from oauth2_provider.models import get_application_model

from common.errors import Conflict
from common.netguard import UnsafeURL, check_service_url, normalize_url
from ledger.access import AUDITORS_GROUP, is_auditor
from registry import selectors
from registry.generation import generation_bump
from registry.models import (
    LANGUAGE_CODES,
    Algorithm,
    AuditEvent,
    DataType,
    Organisation,
    Provider,
    Service,
)
from registry.selectors import ALGORITHM_TEXTS, provider_of_user
from registry.tokens import token_cache_forget_of
from registry.ytunnus import is_valid_business_id

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Application = get_application_model()
UserModel = get_user_model()

MAX_JWKS_KEYS = 10
# The most algorithms one service describes: each is several texts in three languages that
# the consent screen and the transparency page show in full.
MAX_ALGORITHMS = 10
MAX_JWKS_BYTES = 64 * 1024
_LINK = URLValidator(schemes=["https"])
# Changing any of these on an approved service sends it back for review: staff
# approved these endpoints, names and declarations, not whatever comes next.
# Descriptions and key rotation (jwks) do not need a new review; the retention
# statement does: it is a promise to residents, as the transparency declarations are.
_REVIEWED = (
    "slug", "name_fi", "name_sv", "name_en", "privacy_policy_url", "is_source", "fetch_url",
    "link_url",
    "is_sink", "delivery_url", "webhook_url", "automated_decisions", "profiling",
    "algorithm_register_url", "algorithms", "retention_fi", "retention_sv", "retention_en",
)  # fmt: skip


def _invalid(field: str, code: str, message: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _audit(
    *,
    action: str,
    actor: "User | None",
    organisation: Organisation,
    service: Service | None = None,
    **detail: Any,
) -> None:
    # Names as they are now, kept with the event: a user or an organisation renamed
    # later must not change who the evidence says acted, or for whom.
    snapshot = {"organisation_name": organisation.name}
    if actor is not None:
        snapshot["actor_username"] = actor.get_username()
    AuditEvent.objects.create(
        action=action, actor=actor, organisation=organisation, service=service,
        detail={**detail, **snapshot},
    )  # fmt: skip


def _account_audit(*, action: str, actor: "User | None", **detail: Any) -> None:
    """An audit event about an account, naming no organisation; the actor's name kept."""
    if actor is not None:
        detail["actor_username"] = actor.get_username()
    AuditEvent.objects.create(action=action, actor=actor, detail=detail)


def organisation_create(
    *, name: str, business_id: str, contact_email: str, actor: "User | None" = None
) -> Organisation:
    if not is_valid_business_id(business_id):
        raise _invalid(
            "business_id", "invalid_business_id",
            _("This is not a valid Finnish business ID (Y-tunnus), e.g. 1234567-1."),
        )  # fmt: skip
    if Organisation.objects.filter(business_id=business_id).exists():
        raise _invalid(
            "business_id", "duplicate", _("An organisation with this business ID already exists.")
        )
    with transaction.atomic():
        organisation = Organisation.objects.create(
            name=name, business_id=business_id, contact_email=contact_email
        )
        _audit(
            action=AuditEvent.Action.ORGANISATION_CREATED, actor=actor, organisation=organisation
        )
        generation_bump()
    return organisation


def organisation_update(*, organisation: Organisation, changed: list[str]) -> Organisation:
    """Save staff's change to an organisation (its name, contact, verified) from the admin.

    The public registry shows each service's organisation, so the change is a
    change to the registry: processes read it again.
    """
    with transaction.atomic():
        organisation.save()
        if changed:
            generation_bump()
    return organisation


def provider_create(
    *, organisation: Organisation, username: str, email: str, password: str
) -> Provider:
    if UserModel.objects.filter(username=username).exists():
        raise _invalid("username", "duplicate", _("This user name is taken."))
    with transaction.atomic():
        user = UserModel.objects.create_user(username=username, email=email, password=password)
        return Provider.objects.create(user=user, organisation=organisation)


def credential_create(*, provider: Provider, name: str) -> tuple[Any, str]:
    """Create an OAuth2 client-credentials application; return it and its secret.

    The secret is stored hashed: this is the only moment it can be shown. An
    organisation holds at most OMADATA_MAX_CREDENTIALS: each client has its own
    rate limits, and without a cap more clients would mean more requests.
    """
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Locked, so that two creations at once cannot both take the last place.
        Organisation.objects.select_for_update().filter(pk=provider.organisation_id).first()
        held = Application.objects.filter(user__provider__organisation=provider.organisation_id)
        most = settings.OMADATA_MAX_CREDENTIALS
        if held.count() >= most:
            message = _(
                "Your organisation already holds %(count)d credentials, the most it may: "
                "revoke one before creating another."
            ) % {"count": most}
            raise Conflict("credential_limit", message)
        application = Application.objects.create(
            name=name[:255],
            user=provider.user,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
        )
        _audit(
            action=AuditEvent.Action.CREDENTIAL_CREATED, actor=provider.user,
            organisation=provider.organisation, client_id=application.client_id, name=name,
        )  # fmt: skip
    return application, secret


def credential_revoke(*, provider: Provider, application: Any) -> None:
    """Delete an application; its tokens go with it, and out of the cache: they stop at once."""
    with transaction.atomic():
        _audit(
            action=AuditEvent.Action.CREDENTIAL_REVOKED, actor=provider.user,
            organisation=provider.organisation, client_id=application.client_id,
            name=application.name,
        )  # fmt: skip
        token_cache_forget_of(applications=[application.pk])
        application.delete()


def auditor_grant(*, user: "User", actor: "User | None") -> bool:
    """Give `user` the auditor role; False if they hold it already (nothing recorded).

    A provider's user cannot audit: an auditor's API clients hold `audit:read`
    alone, so the provider's own clients would lose their scopes.
    """
    if provider_of_user(user) is not None:
        raise Conflict(
            "provider_cannot_audit",
            _("%(username)s signs in for a service provider, and cannot also be an auditor.")
            % {"username": user.username},
        )
    if is_auditor(user):
        return False
    with transaction.atomic():
        group, _created = Group.objects.get_or_create(name=AUDITORS_GROUP)
        user.groups.add(group)
        _account_audit(
            action=AuditEvent.Action.AUDITOR_GRANTED, actor=actor, username=user.username
        )
    return True


def auditor_revoke(*, user: "User", actor: "User | None") -> bool:
    """Take the auditor role from `user`, and delete their API clients with their tokens.

    False if they did not hold it (nothing recorded).
    """
    if not user.groups.filter(name=AUDITORS_GROUP).exists():
        return False
    with transaction.atomic():
        user.groups.remove(*user.groups.filter(name=AUDITORS_GROUP))
        clients = list(Application.objects.filter(user=user).values_list("client_id", flat=True))
        token_cache_forget_of(applications=Application.objects.filter(user=user))
        Application.objects.filter(user=user).delete()
        _account_audit(
            action=AuditEvent.Action.AUDITOR_REVOKED, actor=actor, username=user.username,
            client_ids=clients,
        )  # fmt: skip
    return True


def auditor_credential_create(
    *, auditor: "User", name: str, actor: "User | None"
) -> tuple[Any, str]:
    """Client credentials for an auditor's tools (scope `audit:read` only); the secret once."""
    if not is_auditor(auditor):
        raise Conflict(
            "not_an_auditor", _("%(username)s is not an auditor.") % {"username": auditor.username}
        )
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        type(auditor).objects.select_for_update().filter(pk=auditor.pk).first()
        if Application.objects.filter(user=auditor).count() >= settings.OMADATA_MAX_CREDENTIALS:
            raise Conflict(
                "credential_limit",
                _("%(username)s already holds %(count)d credentials, the most one may.")
                % {"username": auditor.username, "count": settings.OMADATA_MAX_CREDENTIALS},
            )
        application = Application.objects.create(
            name=name[:255],
            user=auditor,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
        )
        _account_audit(
            action=AuditEvent.Action.CREDENTIAL_CREATED, actor=actor, username=auditor.username,
            client_id=application.client_id, name=name,
        )  # fmt: skip
    return application, secret


def account_lockout_record(
    *, username: str, address: str | None, path: str, failures: int
) -> AuditEvent:
    """Record that logins as `username` from `address` are locked out for the cool-off.

    Only the user name, the address, the login page and the count are kept:
    the passwords that were tried never reach this function.
    """
    return AuditEvent.objects.create(
        action=AuditEvent.Action.ACCOUNT_LOCKED_OUT,
        detail={"username": username, "address": address, "path": path, "failures": failures},
    )


def address_lockout_record(*, address: str, path: str, failures: int) -> AuditEvent:
    """Record that logins from `address` are locked out, whatever the user name.

    The user names that were tried are not kept: they may be anyone's.
    """
    return AuditEvent.objects.create(
        action=AuditEvent.Action.ACCOUNT_LOCKED_OUT,
        detail={"address": address, "path": path, "failures": failures},
    )


def account_close_record(
    *, user: "User", consents_withdrawn: int, links_removed: int
) -> AuditEvent:
    """Record that a resident closed their own account, once its personal data is erased.

    The event names the account by its row (`actor`) and the pseudonym now in its
    user name: recording the name it had would keep what closing erased.
    """
    return AuditEvent.objects.create(
        action=AuditEvent.Action.ACCOUNT_CLOSED, actor=user,
        detail={
            "username": user.get_username(), "consents_withdrawn": consents_withdrawn,
            "links_removed": links_removed,
        },
    )  # fmt: skip


def _check_url(field: str, url: str) -> str:
    """An endpoint the operator sends requests to: its normalised form, once it is checked."""
    try:
        url = normalize_url(url)
        check_service_url(
            url,
            allow_loopback=settings.OMADATA_ALLOW_LOOPBACK_URLS,
            allowed_ports=settings.OMADATA_ALLOWED_PORTS,
        )
    except UnsafeURL as problem:
        raise _invalid(field, problem.code, problem.message) from None
    return url


def _check_link(field: str, url: str) -> str:
    """A link shown to residents (privacy policy, algorithm register): https only.

    Return its normalised form, which is what receipts and pages show.
    """
    try:
        url = normalize_url(url)
    except UnsafeURL as problem:
        raise _invalid(field, problem.code, problem.message) from None
    try:
        _LINK(url)
    except ValidationError:
        raise _invalid(field, "https_required", _("Enter an https:// URL.")) from None
    return url


def _check_jwks(jwks: dict) -> None:
    """A set of 1 to MAX_JWKS_KEYS public keys with their own kids, and nothing else.

    The set is kept as it was sent: bounded, so that what a service stores with
    the operator stays a key set (ten RSA 4096-bit keys with certificate
    chains fit in MAX_JWKS_BYTES many times over).
    """
    encoded = json.dumps(jwks, separators=(",", ":")).encode()
    if len(encoded) > MAX_JWKS_BYTES:
        message = _("A JWK set is at most %(limit)d bytes.") % {"limit": MAX_JWKS_BYTES}
        raise _invalid("jwks", "invalid_jwks", message)
    if set(jwks) != {"keys"}:
        raise _invalid("jwks", "invalid_jwks", _("A JWK set has the member keys, and no other."))
    try:
        keyset = jwk.JWKSet.from_json(encoded)
    except Exception:  # jwcrypto raises many types for a malformed set
        raise _invalid("jwks", "invalid_jwks", _("This is not a valid JWK set.")) from None
    keys = list(keyset["keys"])
    if not keys or len(keys) > MAX_JWKS_KEYS:
        message = _("A JWK set has 1 to %(limit)d keys.") % {"limit": MAX_JWKS_KEYS}
        raise _invalid("jwks", "invalid_jwks", message)
    # A symmetric (oct) key is a shared secret, and jwcrypto counts it as neither public
    # nor private: only keys with a public part belong here.
    if any(key.has_private or not key.has_public for key in keys):
        raise _invalid("jwks", "private_key", _("Publish public keys only, never private ones."))
    kids = [key.get("kid") for key in keys]
    if None in kids or len(set(kids)) != len(kids):
        raise _invalid("jwks", "invalid_jwks", _("Every key needs its own kid."))


def _data_types(field: str, keys: list[str]) -> list[DataType]:
    found = {t.key: t for t in DataType.objects.filter(key__in=keys)}
    unknown = sorted(set(keys) - set(found))
    if unknown:
        message = ngettext(
            "Unknown data type: %(keys)s.", "Unknown data types: %(keys)s.", len(unknown)
        )
        raise _invalid(field, "unknown_data_type", message % {"keys": ", ".join(unknown)})
    return [found[k] for k in dict.fromkeys(keys)]


_ROLE_URLS = {"source": ("fetch_url", "link_url"), "sink": ("delivery_url",)}


def _role_fields(role: str, spec: dict | None) -> tuple[dict, list[DataType]]:
    url_fields = _ROLE_URLS[role]
    if spec is None:
        return {f"is_{role}": False, **dict.fromkeys(url_fields, "")}, []
    urls = {name: _check_url(f"{role}.{name}", spec[name]) for name in url_fields}
    types = _data_types(f"{role}.data_types", spec["data_types"])
    if not types:
        raise _invalid(f"{role}.data_types", "required", _("Name at least one data type."))
    return {f"is_{role}": True, **urls}, types


def _model_fields(spec: dict) -> tuple[dict, dict]:
    """Validate an API-shaped service description; return model fields and M2M lists."""
    fields: dict[str, Any] = {}
    m2m: dict[str, list[DataType]] = {}
    if "slug" in spec:
        fields["slug"] = spec["slug"]
    for text in ("name", "description", "retention"):
        for language, value in spec.get(text, {}).items():
            fields[f"{text}_{language}"] = value
    if "privacy_policy_url" in spec:
        fields["privacy_policy_url"] = _check_link("privacy_policy_url", spec["privacy_policy_url"])
    for role, m2m_name in (("source", "offered_types"), ("sink", "accepted_types")):
        if role in spec:
            role_fields, m2m[m2m_name] = _role_fields(role, spec[role])
            fields.update(role_fields)
    if "webhook_url" in spec:
        webhook_url = spec["webhook_url"]
        fields["webhook_url"] = _check_url("webhook_url", webhook_url) if webhook_url else ""
    if spec.get("jwks") is not None:
        _check_jwks(spec["jwks"])
    if "jwks" in spec:
        fields["jwks"] = spec["jwks"]
    if "transparency" in spec:
        fields.update(_transparency_fields(spec["transparency"]))
    return fields, m2m


def _transparency_fields(spec: dict) -> dict:
    register_url = spec.get("algorithm_register_url") or ""
    if register_url:
        register_url = _check_link("transparency.algorithm_register_url", register_url)
    elif spec["automated_decisions"] or spec["profiling"]:
        raise _invalid(
            "transparency.algorithm_register_url", "required",
            _("A service that makes automated decisions or profiles residents links to its "
              "algorithm register entry."),
        )  # fmt: skip
    return {
        "automated_decisions": spec["automated_decisions"],
        "profiling": spec["profiling"],
        "algorithm_register_url": register_url,
    }


def _algorithms(specs: list[dict], *, type_keys: set[str], automated: bool) -> list[dict]:
    """Validate a service's algorithms, as the API describes them; return them as
    `selectors.algorithms_shown` will (URLs normalised, data types once each).

    Each uses only data types the service offers or accepts (`type_keys`), and a
    service describes algorithms only if it says it makes automated decisions or
    profiles residents (`automated`).
    """
    if len(specs) > MAX_ALGORITHMS:
        raise _invalid("algorithms", "too_many_algorithms", too_many_algorithms())
    if specs and not automated:
        raise _invalid(
            "algorithms", "not_automated",
            _("Algorithms are described by a service that makes automated decisions or "
              "profiles residents: set transparency.automated_decisions or "
              "transparency.profiling."),
        )  # fmt: skip
    described = []
    for index, spec in enumerate(specs):
        field = f"algorithms[{index}]"
        keys = list(dict.fromkeys(spec["data_types"]))
        _algorithm_types_check(f"{field}.data_types", keys, type_keys)
        described.append(
            {
                **{text: dict(spec[text]) for text in ALGORITHM_TEXTS},
                "data_types": keys,
                "register_url": _check_link(f"{field}.register_url", spec["register_url"]),
            }
        )
    return described


def too_many_algorithms() -> str:
    """The message that refuses more than MAX_ALGORITHMS algorithms (the API's too)."""
    return ngettext(
        "A service describes at most %(limit)d algorithm.",
        "A service describes at most %(limit)d algorithms.",
        MAX_ALGORITHMS,
    ) % {"limit": MAX_ALGORITHMS}


def _algorithm_types_check(field: str, keys: list[str], type_keys: set[str]) -> None:
    not_used = [key for key in keys if key not in type_keys]
    if not not_used:
        return
    known = set(DataType.objects.filter(key__in=not_used).values_list("key", flat=True))
    unknown = sorted(set(not_used) - known)
    if unknown:
        message = ngettext(
            "Unknown data type: %(keys)s.", "Unknown data types: %(keys)s.", len(unknown)
        )
        raise _invalid(field, "unknown_data_type", message % {"keys": ", ".join(unknown)})
    message = ngettext(
        "The service neither offers nor accepts this data type: %(keys)s.",
        "The service neither offers nor accepts these data types: %(keys)s.",
        len(not_used),
    )
    raise _invalid(field, "data_type_not_used", message % {"keys": ", ".join(not_used)})


def _algorithms_save(service: Service, algorithms: list[dict]) -> None:
    """Replace the service's algorithms whole with `algorithms`, validated by _algorithms."""
    service.algorithms.all().delete()
    Algorithm.objects.bulk_create(
        Algorithm(
            service=service,
            position=position,
            data_types=algorithm["data_types"],
            register_url=algorithm["register_url"],
            **{
                f"{text}_{language}": algorithm[text][language]
                for text in ALGORITHM_TEXTS
                for language in LANGUAGE_CODES
            },
        )
        for position, algorithm in enumerate(algorithms)
    )


def _save(service: Service, m2m: dict) -> None:
    if not (service.is_source or service.is_sink):
        raise _invalid("source", "role_required", _("A service is a source, a sink or both."))
    if Service.objects.filter(slug=service.slug).exclude(pk=service.pk).exists():
        raise _invalid("slug", "duplicate", _("This slug is taken."))
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError:  # a concurrent registration took the slug
        raise _invalid("slug", "duplicate", _("This slug is taken.")) from None
    for name, types in m2m.items():
        getattr(service, name).set(types)


@transaction.atomic
def service_register(*, organisation: Organisation, actor: "User", spec: dict) -> Service:
    """Register a service for `organisation`. It starts `pending` until staff approve it.

    `spec` is the API's description of a service: slug, name and description in
    fi/sv/en, privacy_policy_url, source and/or sink, webhook_url, jwks, transparency,
    algorithms (up to MAX_ALGORITHMS), and retention (fi/sv/en, optional). Its audit
    event keeps the SHA-256 of the algorithms as `selectors.algorithms_sha256` gives it.
    """
    fields, m2m = _model_fields(spec)
    service = Service(organisation=organisation, status=Service.Status.PENDING, **fields)
    algorithms = _algorithms(
        spec.get("algorithms") or [],
        type_keys={t.key for types in m2m.values() for t in types},
        automated=service.automated_decisions or service.profiling,
    )
    _save(service, m2m)
    _algorithms_save(service, algorithms)
    _audit(
        action=AuditEvent.Action.SERVICE_REGISTERED, actor=actor,
        organisation=organisation, service=service,
        algorithms_sha256=selectors.algorithms_sha256(algorithms),
    )  # fmt: skip
    generation_bump()
    return service


@transaction.atomic
def service_update(*, service: Service, actor: "User", spec: dict) -> Service:
    """Change a service. A reviewed field changing on an approved service re-opens review.

    `algorithms`, when given, replaces the service's algorithms whole; when not, they
    are kept, and must still fit the changed service. A change that changes nothing
    writes nothing.
    """
    service = Service.objects.select_for_update().get(pk=service.pk)
    fields, m2m = _model_fields(spec)
    before_types = _type_keys(service)
    after_types = {
        name: {t.key for t in m2m[name]} if name in m2m else keys
        for name, keys in before_types.items()
    }
    changed = [name for name, value in fields.items() if getattr(service, name) != value]
    changed += [name for name in m2m if before_types[name] != after_types[name]]
    before_algorithms = selectors.algorithms_shown(service)
    for name, value in fields.items():
        setattr(service, name, value)
    # Algorithms not sent are kept, and must still fit the service as it is changed.
    algorithms = _algorithms(
        spec.get("algorithms", before_algorithms),
        type_keys=set().union(*after_types.values()),
        automated=service.automated_decisions or service.profiling,
    )
    if algorithms != before_algorithms:
        changed.append("algorithms")
    if not changed:
        return service
    reopened = service.status == Service.Status.APPROVED and any(
        name in _REVIEWED or name in m2m for name in changed
    )
    if reopened:
        service.status = Service.Status.PENDING
    _save(service, m2m)
    if "algorithms" in changed:
        _algorithms_save(service, algorithms)
    # The hash of the algorithms as they are now: which descriptions staff approved.
    _audit(
        action=AuditEvent.Action.SERVICE_UPDATED, actor=actor, organisation=service.organisation,
        service=service, fields=sorted(changed), review_reopened=reopened,
        algorithms_sha256=selectors.algorithms_sha256(algorithms),
    )  # fmt: skip
    generation_bump()
    return service


def _type_keys(service: Service) -> dict[str, set[str]]:
    return {
        "offered_types": set(service.offered_types.values_list("key", flat=True)),
        "accepted_types": set(service.accepted_types.values_list("key", flat=True)),
    }


def _set_status(
    *, service: Service, actor: "User", status: str, action: str, reason: str = ""
) -> Service:
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.status == status:
            return service
        previous = service.status
        service.status = status
        service.save(update_fields=["status", "updated_at"])
        _audit(
            action=action, actor=actor, organisation=service.organisation, service=service,
            previous=previous, reason=reason,
        )  # fmt: skip
        generation_bump()
    return service


def service_approve(*, service: Service, actor: "User") -> Service:
    return _set_status(
        service=service, actor=actor, status=Service.Status.APPROVED,
        action=AuditEvent.Action.SERVICE_APPROVED,
    )  # fmt: skip


def service_suspend(*, service: Service, actor: "User", reason: str = "") -> Service:
    return _set_status(
        service=service, actor=actor, status=Service.Status.SUSPENDED,
        action=AuditEvent.Action.SERVICE_SUSPENDED, reason=reason,
    )  # fmt: skip


def data_type_save(*, data_type: DataType, actor: "User", changed: list[str]) -> DataType:
    """Create or change a data type (staff do, in the admin), with its audit event.

    Its key is set once: services, consents and signed receipts name the type by it.
    """
    creating = data_type._state.adding
    if not creating:
        key = DataType.objects.filter(pk=data_type.pk).values_list("key", flat=True).get()
        if key != data_type.key:
            raise _invalid("key", "key_fixed", _("A data type's key cannot be changed."))
    action = (
        AuditEvent.Action.DATA_TYPE_CREATED if creating else AuditEvent.Action.DATA_TYPE_CHANGED
    )
    detail: dict[str, Any] = {"key": data_type.key}
    if not creating:
        detail["fields"] = sorted(changed)
    with transaction.atomic():
        data_type.save()
        AuditEvent.objects.create(action=action, actor=actor, detail=detail)
        generation_bump()
    return data_type


def data_type_delete(*, data_type: DataType, actor: "User") -> None:
    """Delete a data type that nothing uses, with its audit event.

    The admin shows what uses a data type in use (registry.selectors.data_type_users)
    and offers no deletion; this refuses it too, should anything else ask.
    """
    if selectors.data_type_users(data_type=data_type, limit=1):
        raise Conflict("data_type_in_use", _("Services or consents use this data type."))
    with transaction.atomic():
        AuditEvent.objects.create(
            action=AuditEvent.Action.DATA_TYPE_DELETED, actor=actor, detail={"key": data_type.key}
        )
        data_type.delete()
        generation_bump()
