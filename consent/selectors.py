"""Reads of consents, requests and receipts, each scoped to who may see them."""

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from consent.models import (
    Consent,
    ConsentRequest,
    ConsentSource,
    LanguagePreference,
    LinkToken,
    Receipt,
    RequestSource,
    ServiceLink,
    sources_with_services,
)
from registry.models import Organisation

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _consents() -> QuerySet[Consent]:
    return Consent.objects.select_related("sink__organisation", "request").prefetch_related(
        "data_types", sources_with_services(ConsentSource)
    )


def consent_list_for_organisation(
    *, organisation: Organisation, status: str | None = None
) -> QuerySet[Consent]:
    """Consents whose source or sink belongs to `organisation`.

    With what the API states of them (the sink's organisation, the request's
    account reference, the data types) and no more: the API reads these often.
    """
    as_source = ConsentSource.objects.filter(
        consent=OuterRef("pk"), service__organisation_id=organisation.pk
    )
    consents = (
        Consent.objects.select_related("sink", "request")
        .prefetch_related("data_types", "sources")
        .filter(Q(sink__organisation_id=organisation.pk) | Exists(as_source))
    )
    if status:
        consents = consents.filter(status=status)
    return consents.order_by("-created_at", "-pk")  # pk: a page boundary never splits a tie


def consent_access_for_organisation(*, organisation: Organisation, consent_id: UUID) -> Consent:
    try:
        return consent_list_for_organisation(organisation=organisation).get(pk=consent_id)
    except Consent.DoesNotExist:
        raise Http404 from None


def consent_list_for_resident(*, resident: "User") -> QuerySet[Consent]:
    return _consents().filter(resident=resident).order_by("-created_at")


def consent_live_count(*, resident: "User") -> int:
    """How many of the resident's consents are in force or paused: what withdrawing all stops."""
    live = [Consent.Status.ACTIVE, Consent.Status.PAUSED]
    return Consent.objects.filter(resident=resident, status__in=live).count()


def consent_access_for_resident(*, resident: "User", consent_id: UUID) -> Consent:
    try:
        return consent_list_for_resident(resident=resident).get(pk=consent_id)
    except Consent.DoesNotExist:
        raise Http404 from None


def request_access_for_sink(*, organisation: Organisation, request_id: UUID) -> ConsentRequest:
    try:
        return (
            ConsentRequest.objects.select_related("consent")
            .prefetch_related("sources")
            .get(pk=request_id, sink__organisation=organisation)
        )
    except ConsentRequest.DoesNotExist:
        raise Http404 from None


def request_access_for_resident(*, resident: "User", request_id: UUID) -> ConsentRequest:
    """An open request anyone logged in may answer, or one this resident answered.

    A request answered by another resident is 404: it is not theirs to see.
    """
    try:
        request = (
            ConsentRequest.objects.select_related("sink__organisation")
            .prefetch_related("data_types", sources_with_services(RequestSource))
            .get(pk=request_id)
        )
    except ConsentRequest.DoesNotExist:
        raise Http404 from None
    if request.resident_id not in (None, resident.pk):
        raise Http404
    return request


def receipts_of(consent: Consent, *, organisation: Organisation | None = None) -> QuerySet[Receipt]:
    """The consent's receipts in order; as `organisation` may read them, if it is given.

    A source's organisation that is not the sink's reads no delivery receipt of
    another source's part: its size and SHA-256 would let it confirm a guess at
    what that source holds. The chain then names receipts it does not see, by
    their hashes; the sink, the resident and auditors see them all.
    """
    receipts = Receipt.objects.filter(consent=consent).select_related("entry")
    if organisation is not None and consent.sink.organisation_id != organisation.pk:
        receipts = receipts.exclude(
            Q(part_source__isnull=False) & ~Q(part_source__organisation_id=organisation.pk)
        )
    return receipts.order_by(*Receipt.IN_ORDER)


def receipt_access_for_resident(*, resident: "User", consent_id: UUID, receipt_id: UUID) -> Receipt:
    """A receipt of one of the resident's consents; 404 for anyone else's."""
    receipt = (
        receipts_of_resident(resident=resident)
        .filter(consent_id=consent_id, pk=receipt_id)
        .select_related("entry")
        .first()
    )
    if receipt is None:
        raise Http404
    return receipt


def receipts_of_resident(*, resident: "User") -> QuerySet[Receipt]:
    return Receipt.objects.filter(consent__resident=resident)


def link_list(*, resident: "User") -> QuerySet[ServiceLink]:
    """The resident's active links, each with `signed_in`: whether the resident linked it
    by signing in at the service (a source's link page), or whether a sink's consent made
    it, the sink having asked for the resident (consent.services._link_sink)."""
    signed_in = Exists(LinkToken.objects.filter(link=OuterRef("pk")))
    return (
        ServiceLink.objects.filter(resident=resident, status=ServiceLink.Status.ACTIVE)
        .select_related("service__organisation")
        .annotate(signed_in=signed_in)
        .order_by("created_at", "pk")
    )


def link_access(*, resident: "User", link_id: UUID) -> ServiceLink:
    link = link_list(resident=resident).filter(pk=link_id).first()
    if link is None:
        raise Http404
    return link


def language_preference(*, resident: "User") -> str | None:
    """The language the resident last chose with the switcher, if any."""
    return (
        LanguagePreference.objects.filter(resident=resident)
        .values_list("language", flat=True)
        .first()
    )
