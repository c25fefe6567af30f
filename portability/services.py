"""Changes to what a resident brought along from another operator."""

from typing import TYPE_CHECKING

from portability.models import ImportedHistory

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def imported_erase(*, resident: "User") -> None:
    """Delete the histories `resident` imported, with their consents and receipts.

    Called as the resident's account closes (consent.pages.account_eraser_register): an
    export holds the resident's user name, e-mail address and names at the issuing
    operator, and the history is theirs alone, no evidence of this operator's.
    """
    ImportedHistory.objects.filter(resident=resident).delete()
