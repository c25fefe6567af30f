"""The audit pages: the receipt log read in a browser, by auditors and staff.

Every page is a GET: auditors change nothing. Whoever is not an auditor gets
403 on every page, before anything is looked up, so a refused caller learns
nothing of which ids exist.
"""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from audit import exports, figures, selectors
from audit.forms import (
    BundleForm,
    CheckpointPageForm,
    ReceiptFilterForm,
    ServiceFiguresForm,
    unknown_parameters,
)
from audit.integrity import integrity_latest
from consent.models import Receipt
from ledger.access import can_audit
from ledger.bundles import BUNDLE_MAX, BundleRangeError, audit_bundle
from ledger.checkpoints import checkpoint_latest
from ledger.log import log_size

PAGE_SIZE = 50
# The most rows a CSV file holds; `before` walks on past them, as on the pages. A
# checkpoint's row costs a signature check and a consistency proof, so fewer of those.
CSV_MAX = 10_000
CHECKPOINT_CSV_MAX = 1_000

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
    context = {
        "log_size": log_size(),
        "checkpoint": checkpoint_latest(),
        "integrity": integrity_latest(),
        "integrity_minutes": max(1, round(settings.OMADATA_INTEGRITY_INTERVAL / 60)),
    }
    return render(request, "audit/home.html", context)


def _receipt_filters(request: HttpRequest) -> tuple[ReceiptFilterForm, list[str]]:
    """The receipts list's filters from the query, and the parameters it does not take."""
    return ReceiptFilterForm(request.GET), unknown_parameters(ReceiptFilterForm, request.GET.keys())


def _receipt_query(filters: dict[str, Any]) -> QuerySet[Receipt]:
    return selectors.receipt_query(
        before=filters["before"], event=filters["event"] or None,
        service=filters["service"] or None, consent_id=filters["consent"],
        from_date=filters["from_date"], to_date=filters["to_date"],
        from_index=filters["from_index"], to_index=filters["to_index"],
    )  # fmt: skip


def _refused_filters(
    request: HttpRequest, form: ReceiptFilterForm, unknown: list[str]
) -> HttpResponse:
    context = {"form": form, "unknown": unknown, "rows": []}
    return render(request, "audit/receipts.html", context, status=400)


@audit_required
def receipt_list(request: HttpRequest) -> HttpResponse:
    form, unknown = _receipt_filters(request)
    if unknown or not form.is_valid():
        return _refused_filters(request, form, unknown)
    filters = form.cleaned_data
    receipts = list(_receipt_query(filters)[: PAGE_SIZE + 1])
    kept = {name: value for name, value in request.GET.items() if name != "before"}
    following, unshown = None, 0
    if len(receipts) > PAGE_SIZE:
        receipts = receipts[:PAGE_SIZE]
        last = receipts[-1].entry.index
        if last is None:
            # The page ends among receipts still queued: it goes on with the whole log,
            # and says how many more are queued (listed once integrated, within seconds).
            shown = sum(1 for receipt in receipts if receipt.entry.index is None)
            queued = _receipt_query(filters).filter(entry__index__isnull=True).count()
            unshown = queued - shown
        following = "?" + urlencode({**kept, "before": log_size() if last is None else last})
    rows = [(receipt, *selectors.receipt_services(receipt)) for receipt in receipts]
    return render(
        request,
        "audit/receipts.html",
        {
            "form": form, "rows": rows, "next": following, "paged": filters["before"] is not None,
            "csv_query": urlencode(kept), "csv_max": CSV_MAX, "unshown_queued": unshown,
            "merge_delay": f"{settings.OMADATA_LOG_MERGE_DELAY:g}",
        },
    )  # fmt: skip


@audit_required
def receipt_csv(request: HttpRequest) -> HttpResponseBase:
    """Every receipt the list's filters match, newest first, up to CSV_MAX of them."""
    form, unknown = _receipt_filters(request)
    if unknown or not form.is_valid():
        return _refused_filters(request, form, unknown)
    # The signed text is the heaviest column of a row, and the file does not hold it.
    receipts = _receipt_query(form.cleaned_data).defer("entry__data")[:CSV_MAX]
    return exports.csv_response(
        filename="omadata-receipts.csv", columns=exports.RECEIPT_COLUMNS,
        rows=exports.receipt_rows(receipts.iterator(chunk_size=2000)),
    )  # fmt: skip


@audit_required
def receipt_detail(request: HttpRequest, receipt_id: UUID) -> HttpResponse:
    receipt = selectors.receipt_access(receipt_id=receipt_id)
    verification = selectors.receipt_verify(receipt)
    previous, following = selectors.receipt_neighbours(receipt)
    sources, sink = selectors.receipt_services(receipt)
    omadata = verification.payload.get("omadata")
    claimed_previous = omadata.get("previous_receipt_sha256") if isinstance(omadata, dict) else None
    expected_previous = previous.entry.sha256 if previous is not None else None
    return render(
        request,
        "audit/receipt.html",
        {
            "receipt": receipt,
            "sources": sources,
            "sink": sink,
            "verification": verification,
            "omadata": omadata if isinstance(omadata, dict) else {},
            "payload_json": json.dumps(verification.payload, indent=2, ensure_ascii=False),
            "header_json": json.dumps(verification.header, indent=2, ensure_ascii=False),
            "previous": previous,
            "next": following,
            "chain_intact": claimed_previous == expected_previous,
            "inclusion": selectors.receipt_inclusion(receipt),
            "merge_delay": f"{settings.OMADATA_LOG_MERGE_DELAY:g}",
        },
    )


def _checkpoint_page(request: HttpRequest) -> CheckpointPageForm | HttpResponse:
    """The page key, checked; or the 400 page when the query is not one the list takes."""
    unknown = unknown_parameters(CheckpointPageForm, request.GET.keys())
    form = CheckpointPageForm(request.GET)
    if unknown or not form.is_valid():
        context = {"form": form, "unknown": unknown, "checks": [], "bundle_form": _bundle_form()}
        return render(request, "audit/checkpoints.html", context, status=400)
    return form


@audit_required
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    form = _checkpoint_page(request)
    if isinstance(form, HttpResponse):
        return form
    before = form.cleaned_data["before"]
    # One more than a page: the last row's consistency is checked against it.
    rows = list(selectors.checkpoint_query(before=before)[: PAGE_SIZE + 1])
    checks = list(selectors.checkpoint_checks(rows, limit=PAGE_SIZE))
    following = None
    if len(rows) > PAGE_SIZE:
        following = "?" + urlencode({"before": checks[-1].checkpoint.tree_size})
    return render(
        request,
        "audit/checkpoints.html",
        {
            "checks": checks, "next": following, "paged": before is not None,
            "bundle_form": _bundle_form(), "csv_max": CHECKPOINT_CSV_MAX,
        },
    )  # fmt: skip


@audit_required
def checkpoint_csv(request: HttpRequest) -> HttpResponseBase:
    """The checkpoints as the list shows them, the largest first, up to CHECKPOINT_CSV_MAX."""
    form = _checkpoint_page(request)
    if isinstance(form, HttpResponse):
        return form
    query = selectors.checkpoint_query(before=form.cleaned_data["before"])
    rows = list(query[: CHECKPOINT_CSV_MAX + 1])
    return exports.csv_response(
        filename="omadata-checkpoints.csv", columns=exports.CHECKPOINT_COLUMNS,
        rows=exports.checkpoint_rows(
            selectors.checkpoint_checks(rows, limit=CHECKPOINT_CSV_MAX)
        ),
    )  # fmt: skip


def _bundle_form() -> BundleForm:
    """The bundle form, filled in with the newest receipts the latest checkpoint covers."""
    latest = checkpoint_latest()
    if latest is None or latest.tree_size == 0:
        return BundleForm()
    end = latest.tree_size
    return BundleForm(initial={"start": max(0, end - BUNDLE_MAX), "end": end})


@audit_required
def bundle_download(request: HttpRequest) -> HttpResponse:
    """With start and end, the audit bundle of that range, as a file; without, the form."""
    if not request.GET:
        return render(request, "audit/bundle.html", {"bundle_form": _bundle_form()})
    unknown = unknown_parameters(BundleForm, request.GET.keys())
    form = BundleForm(request.GET)
    if unknown or not form.is_valid():
        context = {"bundle_form": form, "unknown": unknown}
        return render(request, "audit/bundle.html", context, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    try:
        bundle = audit_bundle(start=start, end=end)
    except BundleRangeError as error:
        if error.code == "no_checkpoint":
            problem = _(
                "No signed checkpoint covers log index %(last)d yet. Checkpoints are signed "
                "regularly: ask again after the next one."
            ) % {"last": end - 1}
            status = 409
        else:
            problem = _(
                "The log has %(size)d receipts: the range from log index %(start)d to "
                "%(last)d is not in it."
            ) % {"size": log_size(), "start": start, "last": end - 1}
            status = 400
        context = {"bundle_form": form, "problem": problem}
        return render(request, "audit/bundle.html", context, status=status)
    response = HttpResponse(json.dumps(bundle), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="omadata-audit-{start}-{end - 1}.json"'
    return response


@audit_required
def consent_history_csv(request: HttpRequest, consent_id: UUID) -> HttpResponseBase:
    consent = selectors.consent_access(consent_id=consent_id)
    return exports.csv_response(
        filename=f"omadata-consent-{consent.pk}.csv", columns=exports.CONSENT_COLUMNS,
        rows=exports.consent_rows(consent),
    )  # fmt: skip


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


def _service_figures_asked(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """The figures' time range, or the 400 page that says what is wrong with it."""
    form = ServiceFiguresForm(request.GET)
    unknown = unknown_parameters(ServiceFiguresForm, request.GET)
    if unknown or not form.is_valid():
        context = {"form": form, "unknown": unknown, "rows": []}
        return render(request, "audit/services.html", context, status=400)
    return dict(form.cleaned_data)


@audit_required
def service_figures(request: HttpRequest) -> HttpResponse:
    asked = _service_figures_asked(request)
    if isinstance(asked, HttpResponse):
        return asked
    form = ServiceFiguresForm(request.GET)  # the filter form, as the auditor filled it in
    rows = figures.service_figures(**asked)
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
    asked = _service_figures_asked(request)
    if isinstance(asked, HttpResponse):
        return asked
    rows = figures.service_figures(**asked)
    return exports.csv_response(
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
