"""The provider's web page: its organisation's services and API credentials."""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from common.errors import Conflict
from registry import selectors, services
from registry.models import Provider

_P = ParamSpec("_P")


def provider_required(
    view: Callable[Concatenate[HttpRequest, Provider, _P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponse:
        provider = selectors.provider_of_user(request.user)
        if provider is None:
            raise PermissionDenied(_("This page is for service providers."))
        return view(request, provider, *args, **kwargs)

    return wrapper


@provider_required
def provider_home(request: HttpRequest, provider: Provider) -> HttpResponse:
    organisation = provider.organisation
    return render(
        request,
        "registry/provider_home.html",
        {
            "organisation": organisation,
            "services": selectors.service_list_owned(organisation=organisation),
            "credentials": selectors.credential_list(organisation=organisation),
        },
    )


@require_POST
@provider_required
def credential_create(request: HttpRequest, provider: Provider) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100] or _("API credential")
    try:
        application, secret = services.credential_create(provider=provider, name=name)
    except Conflict as refused:
        messages.error(request, refused.message)
        return redirect("provider-home")
    # Shown once, on this response only: the secret is stored hashed.
    return render(
        request,
        "registry/credential_created.html",
        {"application": application, "secret": secret, "organisation": provider.organisation},
    )


@require_POST
@provider_required
def credential_revoke(request: HttpRequest, provider: Provider, credential_id: int) -> HttpResponse:
    application = selectors.credential_access(
        organisation=provider.organisation, credential_id=credential_id
    )
    services.credential_revoke(provider=provider, application=application)
    messages.success(request, _("The credential %(name)s is revoked.") % {"name": application.name})
    return redirect("provider-home")
