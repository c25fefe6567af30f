"""Reads of the registry, each scoped to who may see what."""

import copy
import hashlib
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import ManyToManyRel, Model, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

from ledger.jws import canonical_json
from registry.generation import generation_kept, remembered
from registry.models import LANGUAGE_CODES, Algorithm, DataType, Organisation, Provider, Service

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

Application = get_application_model()
# An algorithm's texts, each in fi, sv and en, in the order a page shows them.
ALGORITHM_TEXTS = ("name", "purpose", "logic", "human_oversight", "non_discrimination")


def _with_relations(services: QuerySet[Service]) -> QuerySet[Service]:
    return services.select_related("organisation").prefetch_related(
        "offered_types", "accepted_types", "algorithms"
    )


def service_list_public(
    *, role: str | None = None, data_type: str | None = None
) -> QuerySet[Service]:
    """Approved services: the only ones anybody outside their organisation sees."""
    return _with_relations(_approved(role=role, data_type=data_type))


def service_ids_public(*, role: str | None = None, data_type: str | None = None) -> list[str]:
    """The ids of service_list_public(), in its order, as the API writes them."""
    return [
        str(pk) for pk in _approved(role=role, data_type=data_type).values_list("id", flat=True)
    ]


def _approved(*, role: str | None, data_type: str | None) -> QuerySet[Service]:
    services = Service.objects.filter(status=Service.Status.APPROVED)
    if role == "source":
        services = services.filter(is_source=True)
    elif role == "sink":
        services = services.filter(is_sink=True)
    if data_type:
        services = services.filter(
            Q(offered_types__key=data_type) | Q(accepted_types__key=data_type)
        ).distinct()
    return services


def service_list_owned(*, organisation: Organisation) -> QuerySet[Service]:
    return _with_relations(Service.objects.filter(organisation=organisation))


def service_access(*, organisation: Organisation, service_id: UUID) -> Service:
    """The organisation's own service, or 404 whatever else exists under that id."""
    try:
        return service_list_owned(organisation=organisation).get(pk=service_id)
    except Service.DoesNotExist:
        raise Http404 from None


def algorithm_described(algorithm: Algorithm) -> dict[str, Any]:
    """One algorithm as the API states it and residents are shown it: every language."""
    return {
        **{
            text: {
                language: getattr(algorithm, f"{text}_{language}") for language in LANGUAGE_CODES
            }
            for text in ALGORITHM_TEXTS
        },
        "data_types": list(algorithm.data_types),
        "register_url": algorithm.register_url,
    }


def algorithms_shown(service: Service) -> list[dict[str, Any]]:
    """The canonical description of `service`'s algorithms, in the service's order.

    Each is a dict: `name`, `purpose`, `logic`, `human_oversight` and
    `non_discrimination`, each a dict of its text in `fi`, `sv` and `en`;
    `data_types`, the keys of the data types it uses, in the order given; and
    `register_url`, its entry in the city's algorithm register. It is what the
    API answers under `algorithms`, and what a resident is shown (in their
    language) next to the data an algorithm uses: a consent that binds it does
    so with `algorithms_sha256` of this list. A service with none gives `[]`.

    One query, or none when the service was read with its algorithms prefetched
    (as `service_list_public`, `service_list_owned` and `services_cached` read it).
    """
    return [algorithm_described(algorithm) for algorithm in service.algorithms.all()]


def algorithms_sha256(shown: list[dict[str, Any]]) -> str:
    """The SHA-256 (hex) of `shown`, a list as `algorithms_shown` gives it, over its
    canonical JSON (`ledger.jws.canonical_json`: sorted keys, no spaces, UTF-8).

    Anyone holding the list as the API states it can compute the same hash: a
    receipt that states it binds the descriptions the resident was shown. A
    consent over several services binds each service's list by its own hash.
    """
    return hashlib.sha256(canonical_json(shown)).hexdigest()


def data_type_list() -> QuerySet[DataType]:
    return DataType.objects.all()


def data_type_keys_cached(*, kept: dict[Hashable, Any] | None = None) -> frozenset[str]:
    """Every data type's key, read once per process per registry generation.

    `kept`: the store the caller got from generation_kept() for this request, if any.
    """
    return remembered(
        "data type keys",
        lambda: frozenset(DataType.objects.values_list("key", flat=True)),
        kept=kept,
    )


def services_cached(*, service_ids: Iterable[UUID]) -> dict[UUID, Service]:
    """Services by id, each with its organisation and data types, kept by this process.

    One statement (the registry generation, registry/generation.py) when all are
    kept, one more to read those that are not. Kept rows are read again once any
    change to the registry has committed, so a service's `status` is as fresh as a
    plain read of its row at that moment: callers check it as they would on such a
    row. Services of every status are returned; ids of no service are left out.

    Each answer is a copy, but a shallow one: read it, never save it. It holds no
    lock: a caller that must keep a service from being suspended while it acts
    locks the row itself (`select_for_update`), as it would without this cache.
    """
    wanted = list(dict.fromkeys(service_ids))
    kept = generation_kept()
    found = {pk: kept[("service", pk)] for pk in wanted if ("service", pk) in kept}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        for service in _with_relations(Service.objects.filter(pk__in=missing)):
            found[service.pk] = kept[("service", service.pk)] = service
    return {pk: _copy(service) for pk, service in found.items()}


def service_cached(*, service_id: UUID) -> Service | None:
    """One service as services_cached() gives it, or None if there is none with this id."""
    return services_cached(service_ids=[service_id]).get(service_id)


def _copy(service: Service) -> Service:
    """A copy that callers may set attributes on without changing what the process keeps."""
    clone = copy.copy(service)  # Django copies the instance's state and related-object cache
    clone.organisation = copy.copy(service.organisation)
    clone._prefetched_objects_cache = dict(service._prefetched_objects_cache)  # type: ignore[attr-defined]
    return clone


def provider_of_user(user: "User | AnonymousUser | None") -> Provider | None:
    """The provider membership of a user, or None (residents, staff, auditors).

    No query when the user was read with `select_related("provider__organisation")`,
    as an OAuth2 client's owner is (omadata/oauth.py).
    """
    if user is None or not user.is_authenticated:
        return None
    if get_user_model().provider.is_cached(user):
        return getattr(user, "provider", None)
    try:
        return Provider.objects.select_related("organisation").get(user=user)
    except Provider.DoesNotExist:
        return None


def credential_list(*, organisation: Organisation) -> QuerySet:
    """The OAuth2 applications of every provider user of the organisation."""
    return (
        Application.objects.filter(user__provider__organisation=organisation)
        .select_related("user")
        .order_by("-created")
    )


def credential_access(*, organisation: Organisation, credential_id: int) -> Any:
    try:
        return credential_list(organisation=organisation).get(pk=credential_id)
    except Application.DoesNotExist:
        raise Http404 from None


def data_type_users(*, data_type: DataType, limit: int = 10) -> list[str]:
    """What refers to `data_type`, named for staff: up to `limit` of each kind, and a count.

    Services offer and accept it; consent requests and consents (in an app above
    this one) name it in their terms. Every many-to-many relation to DataType is
    such a use, whichever app declares it, so the registry need not know them.
    """
    found: list[str] = []
    for relation in DataType._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ManyToManyRel):
            continue
        model: type[Model] = relation.related_model  # type: ignore[assignment]  # never "self"
        users = model._default_manager.filter(**{relation.field.name: data_type}).distinct()
        count = users.count()
        name = str(model._meta.verbose_name)
        found += [f"{name}: {user}" for user in users[:limit]]
        if count > limit:
            found.append(
                _("%(name)s: … and %(count)d more") % {"name": name, "count": count - limit}
            )
    return found
