"""The API rate limit per organisation, over all its OAuth2 clients together."""

from django.http import HttpRequest

from common.throttles import WindowThrottle
from registry.selectors import provider_of_user


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
        # No query: the token was read with its application's owner and provider.
        provider = provider_of_user(application.user)
        return [] if provider is None else [str(provider.organisation_id)]
