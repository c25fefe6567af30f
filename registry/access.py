"""Who is calling the API: the provider behind a request's OAuth2 token."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.request import Request

from registry.models import Provider
from registry.selectors import provider_of_user


class NotAProvider(exceptions.PermissionDenied):
    error_code = "not_a_provider"
    default_detail = _("These credentials do not belong to a service provider.")


def caller_provider(request: Request) -> Provider:
    """The provider whose OAuth2 client made this request, or 403 `not_a_provider`."""
    application = getattr(request.auth, "application", None)
    provider = provider_of_user(getattr(application, "user", None))
    if provider is None:
        raise NotAProvider()
    return provider
