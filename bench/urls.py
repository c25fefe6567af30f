"""The operator's URLs plus a plain JSON view, the floor of the gunicorn rows (bench/api.py).

Served by the benchmark's gunicorn only (bench/settings.py); the operator has no such view.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from omadata.urls import handler400, handler404, handler500
from omadata.urls import urlpatterns as operator

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


def plain(request: HttpRequest) -> JsonResponse:
    """A small JSON answer: Django's request cycle and middleware, no database."""
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/plain", plain), *operator]
