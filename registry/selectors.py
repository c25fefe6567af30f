"""Reads of the registry, each scoped to who may see what."""

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db.models import ManyToManyRel, Model, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

from registry.models import DataType, Organisation, Provider, Service

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

Application = get_application_model()


def _with_relations(services: QuerySet[Service]) -> QuerySet[Service]:
    return services.select_related("organisation").prefetch_related(
        "offered_types", "accepted_types"
    )


def service_list_public(
    *, role: str | None = None, data_type: str | None = None
) -> QuerySet[Service]:
    """Approved services: the only ones anybody outside their organisation sees."""
    services = Service.objects.filter(status=Service.Status.APPROVED)
    if role == "source":
        services = services.filter(is_source=True)
    elif role == "sink":
        services = services.filter(is_sink=True)
    if data_type:
        services = services.filter(
            Q(offered_types__key=data_type) | Q(accepted_types__key=data_type)
        ).distinct()
    return _with_relations(services)


def service_list_owned(*, organisation: Organisation) -> QuerySet[Service]:
    return _with_relations(Service.objects.filter(organisation=organisation))


def service_access(*, organisation: Organisation, service_id: UUID) -> Service:
    """The organisation's own service, or 404 whatever else exists under that id."""
    try:
        return service_list_owned(organisation=organisation).get(pk=service_id)
    except Service.DoesNotExist:
        raise Http404 from None


def service_get_public(*, service_id: UUID) -> Service:
    try:
        return service_list_public().get(pk=service_id)
    except Service.DoesNotExist:
        raise Http404 from None


def data_type_list() -> QuerySet[DataType]:
    return DataType.objects.all()


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
