"""Reads of transfers and of the consents a sink may ask transfers under, scoped to the caller."""

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from consent.models import Consent
from registry.models import Organisation
from relay.models import Transfer, TransferAttempt

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def consent_for_sink(*, organisation: Organisation, consent_id: UUID) -> Consent | None:
    """The consent whose sink belongs to `organisation`, or None, whatever else exists."""
    return (
        Consent.objects.select_related("sink")
        .prefetch_related("data_types")
        .filter(pk=consent_id, sink__organisation=organisation)
        .first()
    )


def transfer_list_for_sink(*, organisation: Organisation) -> QuerySet[Transfer]:
    return Transfer.objects.filter(consent__sink__organisation=organisation).prefetch_related(
        "parts", Prefetch("attempt_rows", TransferAttempt.objects.select_related("part"))
    )


def transfer_access_for_sink(*, organisation: Organisation, transfer_id: UUID) -> Transfer:
    """A transfer to one of the organisation's sinks, or 404 whatever else exists."""
    try:
        return transfer_list_for_sink(organisation=organisation).get(pk=transfer_id)
    except Transfer.DoesNotExist:
        raise Http404 from None


def transfer_list_for_resident(*, resident: "User", consent: Consent) -> QuerySet[Transfer]:
    """The transfers made under `consent`, if it is the resident's; none otherwise."""
    return Transfer.objects.filter(consent=consent, consent__resident=resident).order_by(
        "-created_at"
    )
