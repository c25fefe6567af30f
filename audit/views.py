"""The audit pages: the receipt log read in a browser, by auditors and staff.

Every page is a GET: auditors change nothing. Whoever is not an auditor gets
403 on every page, before anything is looked up, so a refused caller learns
nothing of which ids exist.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from audit import figures, selectors
from audit.exports import csv_response
from audit.forms import ReceiptFilterForm, ServiceFiguresForm, unknown_parameters
from ledger.access import can_audit
from ledger.checkpoints import checkpoint_latest
from ledger.log import log_size

PAGE_SIZE = 50

_P = ParamSpec("_P")
# A page, or a file sent as it is made.
_R = TypeVar("_R", bound=HttpResponseBase)


def audit_required(
    view: Callable[Concatenate[HttpRequest, _P], _R],
) -> Callable[Concatenate[HttpRequest, _P], _R]:
    # Pseudonymous, but about residents: no shared cache keeps a copy.
    @never_cache
    @require_safe
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not can_audit(request.user):
            raise PermissionDenied(_("This page is for auditors."))
        return view(request, *args, **kwargs)

    return wrapper


@audit_required
def audit_home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "audit/home.html", {"log_size": log_size(), "checkpoint": checkpoint_latest()}
    )


@audit_required
def receipt_list(request: HttpRequest) -> HttpResponse:
    unknown = unknown_parameters(ReceiptFilterForm, request.GET.keys())
    form = ReceiptFilterForm(request.GET)
    if unknown or not form.is_valid():
        context = {"form": form, "unknown": unknown, "rows": []}
        return render(request, "audit/receipts.html", context, status=400)
    filters = form.cleaned_data
    receipts = selectors.receipt_list(
        before=filters["before"], event=filters["event"] or None,
        service=filters["service"] or None, consent_id=filters["consent"],
        from_date=filters["from_date"], to_date=filters["to_date"],
        from_index=filters["from_index"], to_index=filters["to_index"], limit=PAGE_SIZE + 1,
    )  # fmt: skip
    following = None
    if len(receipts) > PAGE_SIZE:
        receipts = receipts[:PAGE_SIZE]
        kept = {name: value for name, value in request.GET.items() if name != "before"}
        following = "?" + urlencode({**kept, "before": receipts[-1].entry.index})
    rows = [(receipt, *selectors.receipt_services(receipt)) for receipt in receipts]
    return render(
        request,
        "audit/receipts.html",
        {"form": form, "rows": rows, "next": following, "paged": filters["before"] is not None},
    )


@audit_required
def receipt_detail(request: HttpRequest, receipt_id: UUID) -> HttpResponse:
    receipt = selectors.receipt_access(receipt_id=receipt_id)
    verification = selectors.receipt_verify(receipt)
    previous, following = selectors.receipt_neighbours(receipt)
    source, sink = selectors.receipt_services(receipt)
    omadata = verification.payload.get("omadata")
    claimed_previous = omadata.get("previous_receipt_sha256") if isinstance(omadata, dict) else None
    expected_previous = previous.entry.sha256 if previous is not None else None
    return render(
        request,
        "audit/receipt.html",
        {
            "receipt": receipt,
            "source": source,
            "sink": sink,
            "verification": verification,
            "omadata": omadata if isinstance(omadata, dict) else {},
            "payload_json": json.dumps(verification.payload, indent=2, ensure_ascii=False),
            "header_json": json.dumps(verification.header, indent=2, ensure_ascii=False),
            "previous": previous,
            "next": following,
            "chain_intact": claimed_previous == expected_previous,
            "inclusion": selectors.receipt_inclusion(receipt),
        },
    )


@audit_required
def consent_history(request: HttpRequest, consent_id: UUID) -> HttpResponse:
    consent = selectors.consent_access(consent_id=consent_id)
    return render(
        request,
        "audit/consent.html",
        {
            "consent": consent,
            "receipts": selectors.consent_receipts(consent),
            "transfers": selectors.consent_transfers(consent),
        },
    )


def _service_figures_form(request: HttpRequest) -> tuple[ServiceFiguresForm, list[str]]:
    return ServiceFiguresForm(request.GET), unknown_parameters(ServiceFiguresForm, request.GET)


@audit_required
def service_figures(request: HttpRequest) -> HttpResponse:
    form, unknown = _service_figures_form(request)
    if unknown or not form.is_valid():
        context = {"form": form, "unknown": unknown, "rows": []}
        return render(request, "audit/services.html", context, status=400)
    rows = figures.service_figures(**form.cleaned_data)
    # A service is in a table if it has that role now, or had it in what is counted.
    as_sink = [(row.service, row.as_sink) for row in rows if row.service.is_sink or row.as_sink.any]
    as_source = [
        (row.service, row.as_source) for row in rows if row.service.is_source or row.as_source.any
    ]
    query = urlencode({name: value for name, value in request.GET.items() if value})
    return render(
        request,
        "audit/services.html",
        {
            "form": form,
            "rows": rows,
            "consent_rows": [row for row in rows if row.service.is_sink or row.any_consents],
            "transfer_tables": [
                (as_sink, _("Transfers to each service, as the sink")),
                (as_source, _("Transfers from each service, as the source")),
            ],
            "csv_query": f"?{query}" if query else "",
        },
    )


SERVICE_FIGURES_COLUMNS = [
    "service", "name", "status", "consents_requested", "consents_granted", "consents_refused",
    "consents_withdrawn", "consents_expired", "as_sink_delivered", "as_sink_failed",
    "as_sink_cancelled", "as_sink_median_seconds", "as_source_delivered", "as_source_failed",
    "as_source_cancelled", "as_source_median_seconds",
]  # fmt: skip


@audit_required
def service_figures_csv(request: HttpRequest) -> HttpResponseBase:
    form, unknown = _service_figures_form(request)
    if unknown or not form.is_valid():
        context = {"form": form, "unknown": unknown, "rows": []}
        return render(request, "audit/services.html", context, status=400)
    rows = figures.service_figures(**form.cleaned_data)
    return csv_response(
        filename="omadata-service-figures.csv",
        columns=SERVICE_FIGURES_COLUMNS,
        rows=[_service_figures_columns(row) for row in rows],
    )


def _service_figures_columns(row: figures.ServiceFigures) -> tuple[object, ...]:
    service = row.service
    consents = (row.requested, row.granted, row.refused, row.withdrawn, row.expired)
    return (
        service.slug, service.localized("name"), service.status, *consents,
        *_transfer_columns(row.as_sink), *_transfer_columns(row.as_source),
    )  # fmt: skip


def _transfer_columns(transfers: figures.TransferFigures) -> tuple[object, ...]:
    median = transfers.median
    seconds = None if median is None else round(median.total_seconds(), 3)
    return transfers.delivered, transfers.failed, transfers.cancelled, seconds
