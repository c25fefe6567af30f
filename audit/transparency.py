"""A service's public transparency page: its registration, its algorithms and its figures.

Anyone may read it, without logging in. It lives in this app, the top of the
layers, because its figures count consents and transfers (audit.figures), which
the registry below them cannot read. Only an approved service has a page.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit.figures import SMALL_FIGURE, public_figures
from registry.models import Service


def _service_public(slug: str) -> Service:
    """The approved service with this slug, with what its page shows; 404 otherwise."""
    services = Service.objects.select_related("organisation").prefetch_related(
        "offered_types", "accepted_types", "algorithms"
    )
    try:
        return services.get(slug=slug, status=Service.Status.APPROVED)
    except Service.DoesNotExist:
        raise Http404 from None


@require_safe
def service_transparency(request: HttpRequest, slug: str) -> HttpResponse:
    service = _service_public(slug)
    types = {t.key: t for t in [*service.offered_types.all(), *service.accepted_types.all()]}
    # An algorithm names the types by key; each is one the service offers or accepts.
    algorithms = [
        (algorithm, [types[key] for key in algorithm.data_types if key in types])
        for algorithm in service.algorithms.all()
    ]
    context = {
        "service": service,
        "algorithms": algorithms,
        "figures": public_figures(service=service),
        "small_figure": SMALL_FIGURE,
    }
    return render(request, "audit/transparency.html", context)
