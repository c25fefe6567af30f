from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from ledger import keys


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    """Every key the operator has signed with, retired ones included."""
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response
