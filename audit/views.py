"""The audit pages: the receipt log read in a browser, by auditors and staff.

Every page is a GET: auditors change nothing. Whoever is not an auditor gets
403 on every page, before anything is looked up, so a refused caller learns
nothing of which ids exist.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from audit import selectors
from audit.forms import ReceiptFilterForm, unknown_parameters
from audit.integrity import integrity_latest
from ledger.access import can_audit
from ledger.checkpoints import checkpoint_latest
from ledger.log import log_size

PAGE_SIZE = 50

_P = ParamSpec("_P")


def audit_required(
    view: Callable[Concatenate[HttpRequest, _P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponse]:
    # Pseudonymous, but about residents: no shared cache keeps a copy.
    @never_cache
    @require_safe
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, /, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponse:
        if not can_audit(request.user):
            raise PermissionDenied(_("This page is for auditors."))
        return view(request, *args, **kwargs)

    return wrapper


@audit_required
def audit_home(request: HttpRequest) -> HttpResponse:
    context = {
        "log_size": log_size(),
        "checkpoint": checkpoint_latest(),
        "integrity": integrity_latest(),
        "integrity_minutes": max(1, round(settings.OMADATA_INTEGRITY_INTERVAL / 60)),
    }
    return render(request, "audit/home.html", context)


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
