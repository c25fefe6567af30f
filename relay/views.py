"""The relay's part of the resident's pages: the transfers made under a consent."""

from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from common.http import AuthenticatedHttpRequest
from consent.models import Consent
from relay import selectors
from relay.models import Transfer

# What a resident is told about a transfer that moved nothing; the error codes are for services.
_REASONS = {
    "consent_withdrawn": _("You withdrew the consent before the data moved."),
    "consent_paused": _("You paused the consent before the data moved."),
    "consent_expired": _("The consent ended before the data moved."),
    "source_link_missing": _("Your account at the source service is no longer linked."),
    "sink_link_missing": _("Your account at the receiving service is no longer linked."),
}
_SIDES = {
    "source": _("The source service did not give the data."),
    "sink": _("The receiving service did not accept the data."),
}


def transfer_reason(transfer: Transfer) -> str:
    """Why a failed or cancelled transfer moved nothing, in plain words; "" for any other."""
    if transfer.status not in (Transfer.Status.FAILED, Transfer.Status.CANCELLED):
        return ""
    side = transfer.error_code.split("_", 1)[0]
    return str(
        _REASONS.get(transfer.error_code)
        or _SIDES.get(side)
        or _("The transfer could not be completed.")
    )


def consent_transfers_section(*, request: AuthenticatedHttpRequest, consent: Consent) -> str:
    """The consent page's list of transfers; registered with consent.pages by RelayConfig."""
    transfers = selectors.transfer_list_for_resident(resident=request.user, consent=consent)
    rows = [(transfer, transfer_reason(transfer)) for transfer in transfers]
    return render_to_string("relay/consent_transfers.html", {"rows": rows}, request=request)
