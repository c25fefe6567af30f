"""The API rate limit per organisation, over all its OAuth2 clients together."""

from django.http import HttpRequest

from common.throttles import WindowThrottle
from registry.models import Provider


class ApiOrganisationThrottle(WindowThrottle):
    """API calls per organisation: creating more clients does not multiply its budget.

    Each client has its own limit as well (`common.throttles.ApiClientThrottle`);
    this one is the ceiling over all of them.
    """

    scope = "api_organisation"
    setting = "OMADATA_RATE_API_ORGANISATION"

    def idents(self, request: HttpRequest) -> list[str]:
        application = getattr(getattr(request, "auth", None), "application", None)
        if application is None:
            return []
        organisation = (
            Provider.objects.filter(user_id=application.user_id)
            .values_list("organisation_id", flat=True)
            .first()
        )
        return [] if organisation is None else [str(organisation)]
