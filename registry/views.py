"""The provider's web page: its organisation's services and API credentials."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from registry import selectors, services


def provider_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        provider = selectors.provider_of_user(request.user)
        if provider is None:
            raise PermissionDenied(_("This page is for service providers."))
        return view(request, provider, *args, **kwargs)

    return wrapper


@provider_required
def provider_home(request, provider):
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
def credential_create(request, provider):
    name = request.POST.get("name", "").strip()[:100] or _("API credential")
    application, secret = services.credential_create(provider=provider, name=name)
    # Shown once, on this response only: the secret is stored hashed.
    return render(
        request,
        "registry/credential_created.html",
        {"application": application, "secret": secret, "organisation": provider.organisation},
    )


@require_POST
@provider_required
def credential_revoke(request, provider, credential_id: int):
    application = selectors.credential_access(
        organisation=provider.organisation, credential_id=credential_id
    )
    services.credential_revoke(provider=provider, application=application)
    messages.success(request, _("The credential %(name)s is revoked.") % {"name": application.name})
    return redirect("provider-home")
