"""Reads of imported histories, scoped to the resident they were imported into."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from portability.models import ImportedConsent, ImportedHistory
from registry.models import Service

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class ImportedRow:
    consent: ImportedConsent
    # The sink here, when it and every source of the consent are registered here too.
    sink_here: Service | None


def imported_list(*, resident: "User") -> list[tuple[ImportedHistory, list[ImportedRow]]]:
    """The resident's imported histories, each with its consents and whether each can be
    asked again here: its sink and all its sources registered and approved here, under the
    same slug and the same organisation (business ID). A slug alone could be another
    organisation's here; the business ID is the organisation's in the trade register."""
    histories = list(
        ImportedHistory.objects.filter(resident=resident)
        .defer("document")
        .prefetch_related(Prefetch("consents", ImportedConsent.objects.order_by("-created_at")))
    )
    consents = [consent for history in histories for consent in history.consents.all()]
    slugs = {c.sink_slug for c in consents} | {s["slug"] for c in consents for s in c.sources}
    here = {
        (service.slug, service.organisation.business_id): service
        for service in Service.objects.filter(
            slug__in=slugs, status=Service.Status.APPROVED
        ).select_related("organisation")
    }

    def sink_here(consent: ImportedConsent) -> Service | None:
        sink = here.get((consent.sink_slug, consent.sink_business_id))
        sources = [here.get((s["slug"], s["business_id"])) for s in consent.sources]
        if sink is None or not sink.is_sink or not all(s and s.is_source for s in sources):
            return None
        return sink

    return [
        (history, [ImportedRow(c, sink_here(c)) for c in history.consents.all()])
        for history in histories
    ]
