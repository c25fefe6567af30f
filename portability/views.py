"""The resident's pages for taking their history along: download it, or bring it here."""

import re
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from common.http import AuthenticatedHttpRequest
from common.middleware import request_size_limit
from portability import selectors
from portability.export import export_stream
from portability.imports import ImportRefused, history_import

# The one-time code that binds an import to this session's resident (docs/residents.md).
IMPORT_CODE = "import_code"
CODE_FORM = re.compile(r"[0-9A-F]{4}(?:-[0-9A-F]{4}){3}")


@require_safe
@login_required
def my_data(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "portability/my_data.html", {"code_error": False})


@require_safe
@login_required
@never_cache
def my_data_export(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The export file, streamed; `code` (optional) is a new operator's import code."""
    code = request.GET.get("code", "").strip().upper()
    if code and not CODE_FORM.fullmatch(code):
        context = {"code_error": True, "code": code[:40]}
        return render(request, "portability/my_data.html", context, status=400)
    stamp = timezone.now().strftime("%Y%m%d")
    response = StreamingHttpResponse(
        export_stream(resident=request.user, code=code), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="omadata-export-{stamp}.json"'
    return response


def _import_code(request: AuthenticatedHttpRequest) -> str:
    code = request.session.get(IMPORT_CODE)
    if not code:
        digits = secrets.token_hex(8).upper()
        code = "-".join(digits[n : n + 4] for n in range(0, 16, 4))
        request.session[IMPORT_CODE] = code
    return code


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@never_cache
@request_size_limit("OMADATA_IMPORT_MAX_BYTES")
def my_data_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    code = _import_code(request)
    context = {"code": code, "limit_mb": settings.OMADATA_IMPORT_MAX_BYTES // (1024 * 1024)}
    if request.method != "POST":
        return render(request, "portability/my_data_import.html", context)
    upload = request.FILES.get("export")
    if upload is None:
        refusal = ImportRefused("no_file", _("Choose the export file to upload."))
        return _refused(request, context, refusal)
    if upload.size is None or upload.size > settings.OMADATA_IMPORT_MAX_BYTES:
        return render(request, "portability/my_data_import.html", context, status=413)
    try:
        history = history_import(resident=request.user, data=upload.read(), code=code)
    except ImportRefused as refusal:
        return _refused(request, context, refusal)
    del request.session[IMPORT_CODE]
    messages.success(
        request,
        _("Your history from %(operator)s is imported: %(count)d consents.")
        % {"operator": history.operator, "count": history.consents.count()},
    )
    return redirect("my-consents")


def _refused(
    request: AuthenticatedHttpRequest, context: dict, refusal: ImportRefused
) -> HttpResponse:
    context = {**context, "refusal": refusal}
    return render(request, "portability/my_data_import.html", context, status=400)


def imported_section(*, request: AuthenticatedHttpRequest) -> str:
    """My consents' list of imported histories; registered with consent.pages."""
    histories = selectors.imported_list(resident=request.user)
    return render_to_string(
        "portability/imported_section.html", {"histories": histories}, request=request
    )
