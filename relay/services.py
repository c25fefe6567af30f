"""Transfers: asked for by a sink, relayed by a worker from the source to the sink.

A recurring consent's transfers are also made by the schedule, without the sink
asking: through the same path as a sink's request, so the same checks apply.

The Transfer row is its own outbox: it commits with the request, and the relay
task is enqueued only after commit; the sweeper re-enqueues whatever a broker
outage or a dead worker left behind.

A consent that stops being active stops its transfers without the consent app
knowing about them (the dependencies run registry <- consent <- relay): the
relay re-checks the consent right before fetching and right before delivering,
so a transfer not yet delivered is cancelled at whichever of the two comes
next. The sweeper hurries along transfers that wait in backoff under a consent
that has stopped, so that they show `cancelled` within a sweep, not a backoff.
"""

import base64
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from common import headers, outbound, outbox
from common.errors import Conflict, Forbidden, Unprocessable
from consent.models import Consent, Frequency, Period, ServiceLink
from consent.receipts import transfer_receipt_issue
from ledger import jws
from registry.models import Organisation, Service
from relay.models import FINAL_STATUSES, UNFINISHED_STATUSES, Transfer, TransferAttempt
from relay.tokens import transfer_token
from webhooks.services import notify

logger = logging.getLogger(__name__)

_STOPPED: dict[str, str] = {
    Consent.Status.WITHDRAWN: "consent_withdrawn",
    Consent.Status.PAUSED: "consent_paused",
    Consent.Status.EXPIRED: "consent_expired",
}
# A recurring consent's limit counts over a rolling window of its period.
_WINDOW: dict[str, timedelta] = {
    Period.DAY: timedelta(days=1),
    Period.WEEK: timedelta(days=7),
    Period.MONTH: timedelta(days=30),
}


# -- asking for a transfer ----------------------------------------------------------------


def request_hash(*, consent_id: UUID | str, data_types: list[str]) -> str:
    """What an Idempotency-Key is bound to: the request's body, in a canonical form."""
    body = {"consent": str(consent_id), "data_types": sorted(data_types)}
    return hashlib.sha256(jws.canonical_json(body)).hexdigest()


def _consent_keys(consent: Consent) -> list[str]:
    # Through .all(): a relayed transfer's consent has its data types prefetched.
    return sorted(data_type.key for data_type in consent.data_types.all())


def _limit_used(consent: Consent, now: datetime) -> tuple[QuerySet[Transfer], int]:
    """The consent's transfers that count against its frequency limit at `now`, and the limit."""
    # A failed or cancelled transfer delivered nothing: it does not use the limit up.
    used = Transfer.objects.filter(consent=consent).exclude(
        status__in=[Transfer.Status.FAILED, Transfer.Status.CANCELLED]
    )
    if consent.frequency == Frequency.ONE_OFF:
        return used, 1
    window, limit = _recurrence(consent)
    return used.filter(created_at__gt=now - window), limit


def _recurrence(consent: Consent) -> tuple[timedelta, int]:
    """A recurring consent's window and its limit in it: consent_request_create set both."""
    assert consent.frequency_limit is not None, f"recurring consent {consent.pk} has no limit"
    return _WINDOW[consent.frequency_period], consent.frequency_limit


def _check_frequency(consent: Consent, now: datetime) -> None:
    """Refuse a transfer past the consent's frequency limit. The consent row is locked."""
    used, limit = _limit_used(consent, now)
    if used.count() >= limit:
        raise Conflict("frequency_limit", _("This consent allows no more transfers for now."))


@transaction.atomic
def transfer_request(
    *,
    consent: Consent,
    organisation: Organisation,
    idempotency_key: str | None = None,
    data_types: list[str] | None = None,
) -> tuple[Transfer, bool]:
    """Record a sink's request for a transfer under `consent`; return it and whether it is new.

    The caller has checked that `organisation` owns the consent's sink. A repeat
    with the same `idempotency_key` and the same body returns the first transfer,
    even while it is unfinished; the same key with another body is Unprocessable;
    the same key sent at the same moment under another consent is a Conflict.
    While the consent has an unfinished transfer, or the sink has
    OMADATA_SINK_MAX_UNFINISHED_TRANSFERS, a new one is a Conflict
    (`transfer_in_progress`, `sink_transfer_limit`). The relay task is enqueued
    after commit; a broker that cannot take it is logged and left to the
    sweeper. `data_types` narrows the transfer to a part of the consent's data
    types (default: all of them); asking for any other is Forbidden, and the
    source is never asked.
    """
    allowed = _consent_keys(consent)
    wanted = sorted(set(data_types)) if data_types is not None else allowed
    if not set(wanted) <= set(allowed):
        raise Forbidden("outside_consent", _("The consent does not cover all of these data types."))
    digest = request_hash(consent_id=consent.pk, data_types=wanted)
    # Locked before the key is looked up: a repeat that raced its original here
    # waits for it, and then finds it rather than the rule of one unfinished transfer.
    consent = _locked(consent.pk)
    if idempotency_key:
        earlier = Transfer.objects.filter(
            requested_by=organisation, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:
            if earlier.request_hash != digest:
                raise Unprocessable(
                    "idempotency_key_reused",
                    _("This Idempotency-Key was used with another request."),
                )
            return earlier, False
    transfer = _transfer_create(
        consent=consent, organisation=organisation, now=timezone.now(),
        idempotency_key=idempotency_key or "", digest=digest, data_types=wanted,
    )  # fmt: skip
    return transfer, True


def _transfer_create(
    *,
    consent: Consent,
    organisation: Organisation,
    now: datetime,
    idempotency_key: str = "",
    digest: str,
    scheduled: bool = False,
    data_types: list[str] | None = None,
) -> Transfer:
    """Validate and write a new transfer under `consent`, and enqueue its relay after commit.

    The one way a transfer comes to be, whether a sink asked for it or the
    schedule did. Runs in the caller's transaction, which holds the consent's
    row lock (`consent` is the row `_locked` read), so that transfers under one
    consent are counted against its limit one at a time.
    """
    if consent.status != Consent.Status.ACTIVE or consent.valid_until <= now:
        raise Conflict("consent_not_active", _("This consent is not active."))
    if any(end.status != Service.Status.APPROVED for end in (consent.source, consent.sink)):
        raise Conflict("service_unavailable", _("A service in this consent is not in use."))
    _check_frequency(consent, now)
    _check_unfinished(consent)
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                consent=consent, requested_by=organisation, idempotency_key=idempotency_key,
                request_hash=digest, next_attempt_at=now, scheduled=scheduled,
                data_types=data_types if data_types is not None else _consent_keys(consent),
            )  # fmt: skip
    except IntegrityError:
        _check_unfinished(consent)  # the constraint behind the check, should it ever be passed
        raise Conflict(
            "idempotency_key_in_use",
            _("A request with this Idempotency-Key is being handled; try again."),
        ) from None
    transaction.on_commit(lambda: _enqueue(transfer.id))
    return transfer


def _locked(consent_id: UUID) -> Consent:
    """The consent, its row locked until commit, with its source and sink (not locked) read too."""
    return (
        Consent.objects.select_for_update(of=("self",))
        .select_related("source", "sink")
        .get(pk=consent_id)
    )


def _check_unfinished(consent: Consent) -> None:
    """Refuse a transfer while the consent has one unfinished, or its sink too many.

    One at a time under a consent: asked for all at once, a recurring consent's
    transfers would run side by side and fetch the same data many times over.
    The consent row is locked, and the constraint transfer_one_unfinished_per_consent
    holds the rule in the database as well. The sink's cap is counted under the
    consent's lock only: requests under different consents at the same moment can
    pass it by as many as arrive together.
    """
    unfinished = Transfer.objects.filter(status__in=UNFINISHED_STATUSES)
    running = unfinished.filter(consent=consent).values_list("pk", flat=True).first()
    if running is not None:
        raise Conflict(
            "transfer_in_progress",
            _("A transfer under this consent is not finished yet; ask again once it is."),
            {"transfer": str(running)},
        )
    cap = settings.OMADATA_SINK_MAX_UNFINISHED_TRANSFERS
    if unfinished.filter(consent__sink_id=consent.sink_id).count() >= cap:
        raise Conflict(
            "sink_transfer_limit",
            _("Your sink has %(cap)d unfinished transfers; ask again once some are finished.")
            % {"cap": cap},
        )


def _task() -> Any:  # a Celery task: Celery ships no types
    from relay.tasks import transfer_relay

    return transfer_relay


def _enqueue(transfer_id: UUID, *, countdown: float | None = None) -> bool:
    return outbox.enqueue(_task(), transfer_id, countdown=countdown)


# -- the schedule ---------------------------------------------------------------------------


def _spacing(consent: Consent) -> timedelta:
    """How long a recurring consent's transfers are kept apart: its period over its limit."""
    window, limit = _recurrence(consent)
    return window / limit


def _schedule_due(consent: Consent, now: datetime) -> bool:
    """Whether the schedule owes `consent` a transfer now. The consent row is locked.

    Due when no transfer that counts against the limit (any origin: a sink's own
    request takes a scheduled one's place) was made within one spacing.
    """
    used, _limit = _limit_used(consent, now)
    return not used.filter(created_at__gt=now - _spacing(consent)).exists()


def transfer_schedule_due(*, now: datetime | None = None) -> int:
    """Create the transfers the schedule owes recurring consents now; return how many.

    At most one per consent per run, through the same validation and outbox as a
    sink's request. Safe to run twice at once, from two schedulers: each consent
    is decided under its row lock, and the second finds the first's transfer.
    A consent that is not active (withdrawn, paused, expired) gets nothing.
    `now` is the clock's time: transfers are stamped by the clock, and spaced by it.
    """
    now = now or timezone.now()
    last_used = (
        Transfer.objects.filter(consent=OuterRef("pk"))
        .exclude(status__in=[Transfer.Status.FAILED, Transfer.Status.CANCELLED])
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    running = Transfer.objects.filter(consent=OuterRef("pk"), status__in=UNFINISHED_STATUSES)
    # A consent whose last transfer is still under way is owed nothing yet: its
    # next one waits for it to finish (one unfinished transfer per consent).
    candidates = Consent.objects.filter(
        ~Exists(running),
        status=Consent.Status.ACTIVE, frequency=Frequency.RECURRING, valid_until__gt=now,
    ).annotate(last_used=Subquery(last_used))  # fmt: skip
    # A read without the lock skips the many consents not yet due in one query;
    # the ones left are decided again, each under its lock.
    due = [
        consent
        for consent in candidates.select_related("sink__organisation").iterator()
        if consent.last_used is None or consent.last_used <= now - _spacing(consent)
    ]
    return sum(_transfer_schedule(consent=consent, now=now) is not None for consent in due)


def _transfer_schedule(*, consent: Consent, now: datetime) -> Transfer | None:
    """The consent's scheduled transfer, if it is still due once its row is locked."""
    try:
        with transaction.atomic():
            locked = _locked(consent.pk)
            if not _schedule_due(locked, now):
                return None
            return _transfer_create(
                consent=locked, organisation=consent.sink.organisation, now=now,
                digest=request_hash(consent_id=consent.pk, data_types=_consent_keys(consent)),
                scheduled=True,
            )  # fmt: skip
    except Conflict as refusal:
        # Stopped since the read, a service no longer approved, the limit used up by
        # the sink's own requests, a transfer the sink asked for meanwhile still under
        # way, or the sink's cap reached: nothing is owed now; the next run looks again.
        logger.info("no scheduled transfer for consent %s: %s", consent.pk, refusal.code)
        return None


# -- relaying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What one step of a try came to: our own error code, never a peer's text."""

    error: str = ""
    http_status: int | None = None


def transfer_claim(*, transfer_id: UUID | str) -> Transfer | None:
    """Take the next try of a due queued transfer, or None when there is none to take.

    The claim moves the transfer to `fetching` and owns it for the lease of
    two requests, a fetch and a delivery; a second worker holding the same
    message finds nothing queued and does nothing. A transfer that has had
    OMADATA_RELAY_MAX_ATTEMPTS tries has none left to take.
    """
    now = timezone.now()
    claimed = outbox.claim(
        Transfer.objects.filter(status=Transfer.Status.QUEUED),
        pk=transfer_id, now=now, until=outbox.lease_end(now=now, requests=2),
        max_attempts=settings.OMADATA_RELAY_MAX_ATTEMPTS,
        status=Transfer.Status.FETCHING, started_at=Coalesce(F("started_at"), now),
    )  # fmt: skip
    if not claimed:
        return None
    return _claimed(transfer_id)


def _claimed(transfer_id: UUID | str) -> Transfer:
    """A claimed transfer with everything its try reads, in two statements.

    One reads the transfer, its consent (the status and expiry checked before
    the fetch), both services and their organisations (for the tokens, the
    receipt and the notifications), and the resident's pairwise id at each
    service (`source_subject`, `sink_subject`: None without an active link);
    the other the consent's data types. Nothing here is read again in the try:
    the consent's terms never change, and a link removed meanwhile withdraws the
    consent, which the move to `delivering` re-checks.
    """
    links = ServiceLink.objects.filter(
        resident=OuterRef("consent__resident"), status=ServiceLink.Status.ACTIVE
    ).order_by("pk")
    return (
        Transfer.objects.select_related("consent__source__organisation",
                                        "consent__sink__organisation")
        .prefetch_related("consent__data_types")
        .annotate(
            source_subject=Subquery(
                links.filter(service=OuterRef("consent__source")).values("subject")[:1]
            ),
            sink_subject=Subquery(
                links.filter(service=OuterRef("consent__sink")).values("subject")[:1]
            ),
        )
        .get(pk=transfer_id)
    )  # fmt: skip


def transfer_relay(*, transfer_id: UUID | str) -> TransferAttempt | None:
    """Make the next try at relaying a transfer, if one is due; return its record.

    Safe to call any number of times, from any number of workers: only the call
    that claims a due try talks to anyone. The consent is re-checked before the
    fetch and before the delivery; a transient failure (timeout, failed
    connection, 5xx, 429) is tried again after a backoff until
    OMADATA_RELAY_MAX_ATTEMPTS; any other failure is final at once. The body is
    held in this call's memory only.
    """
    started = timezone.now()
    transfer = transfer_claim(transfer_id=transfer_id)
    if transfer is None:
        return None
    # The consent as the claim's read found it, after the claim: the check before the fetch.
    stop = _stop_reason(transfer.consent)
    if stop:
        return _record(transfer=transfer, started=started, outcome=_Outcome(stop))
    fetched = _fetch(transfer)
    if isinstance(fetched, _Outcome):
        return _record(transfer=transfer, started=started, outcome=fetched)
    stopped = _delivering(transfer)
    if stopped is None:
        return None  # the try outlived its lease, and a newer one owns the transfer
    if stopped:
        return _record(transfer=transfer, started=started, outcome=_Outcome(stopped))
    body, content_type = fetched
    outcome = _deliver(transfer, body=body, content_type=content_type)
    return _record(
        transfer=transfer, started=started, outcome=outcome,
        body_size=len(body), body_sha256=hashlib.sha256(body).hexdigest(),
        content_type=content_type,
    )  # fmt: skip


def _stop_reason(consent: Consent) -> str:
    """Why the consent, as last read, no longer allows a transfer; "" if it does."""
    if consent.status in _STOPPED:
        return _STOPPED[consent.status]
    if consent.valid_until <= timezone.now():
        return "consent_expired"  # the expiry sweep has not marked it yet: it is over all the same
    return ""


def _delivering(transfer: Transfer) -> str | None:
    """Move the try to `delivering` if its consent still allows it, right before the delivery.

    The re-check of the consent and the try's fence are one conditional update.
    Return "" once moved, why the consent stops the transfer, or None when the
    try has lost its transfer (its lease ran out and a newer try owns it).
    """
    consent = transfer.consent
    mine = Transfer.objects.filter(
        pk=transfer.pk, status=Transfer.Status.FETCHING, attempts=transfer.attempts
    )
    # Twice at most: a consent paused and resumed between the update and the read.
    for _round in range(2):
        allowed = mine.filter(
            consent__status=Consent.Status.ACTIVE, consent__valid_until__gt=timezone.now()
        )
        if allowed.update(status=Transfer.Status.DELIVERING):
            return ""
        row = mine.values("consent__status", "consent__valid_until").first()
        if row is None:
            return None
        consent.status, consent.valid_until = row["consent__status"], row["consent__valid_until"]
        stop = _stop_reason(consent)
        if stop:
            return stop
    return None  # left in `fetching`: when its lease ends, the sweeper hands it on


def _bearer(transfer: Transfer, service: Service, subject: str | None) -> str | _Outcome:
    """The Authorization value for one request to `service`, or why there is none.

    `subject` is the resident's pairwise id at `service` (see `_claimed`).
    """
    consent = transfer.consent
    if service.status != Service.Status.APPROVED:
        return _Outcome("service_not_approved")
    if subject is None:
        return _Outcome("link_missing")
    covered = _consent_keys(consent)
    # Never more than the consent covers; a row from before data_types existed has none.
    asked = sorted(set(transfer.data_types or covered) & set(covered))
    token = transfer_token(
        service=service, subject=subject, consent_id=str(consent.id),
        transfer_id=str(transfer.id), data_types=asked,
    )  # fmt: skip
    return f"Bearer {token}"


def _fetch(transfer: Transfer) -> tuple[bytes, str] | _Outcome:
    """GET the data from the source; the body and its content type, or why not."""
    source = transfer.consent.source
    bearer = _bearer(transfer, source, transfer.source_subject)  # type: ignore[attr-defined]
    if isinstance(bearer, _Outcome):
        return _Outcome(f"source_{bearer.error}")
    try:
        response = outbound.request(
            method="GET", url=source.fetch_url,
            headers={"Authorization": bearer, "Accept-Encoding": "identity"},
            max_bytes=settings.OMADATA_TRANSFER_MAX_BYTES,
        )  # fmt: skip
    except outbound.OutboundError as failure:
        return _Outcome(f"source_{failure.code}", failure.status)
    error = outbox.http_error(response.status)
    if error:
        return _Outcome(f"source_{error}", response.status)
    # The operator asked for the body as it is. A compressed one is neither relayed
    # (the sink would get bytes whose digest and size say nothing of the data) nor
    # unpacked (a few kilobytes of gzip can unpack to gigabytes).
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return _Outcome("source_bad_content_encoding", response.status)
    # Kept with the transfer and sent on to the sink: it must be one media type of
    # RFC 9110, short enough to keep. An answer without one is octet-stream (8.3).
    declared = response.headers.get("content-type", "")
    content_type = headers.media_type(declared) if declared else "application/octet-stream"
    if content_type is None:
        return _Outcome("source_bad_content_type", response.status)
    return response.body, content_type


def content_digest(body: bytes) -> str:
    """The RFC 9530 Content-Digest field value of `body`."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _deliver(transfer: Transfer, *, body: bytes, content_type: str) -> _Outcome:
    """POST the body to the sink with the transfer's id as its Idempotency-Key."""
    sink = transfer.consent.sink
    bearer = _bearer(transfer, sink, transfer.sink_subject)  # type: ignore[attr-defined]
    if isinstance(bearer, _Outcome):
        return _Outcome(f"sink_{bearer.error}")
    headers = {
        "Authorization": bearer,
        "Idempotency-Key": str(transfer.id),
        "Content-Type": content_type,
        "Content-Digest": content_digest(body),
    }
    try:
        response = outbound.request(
            method="POST", url=sink.delivery_url, headers=headers, body=body
        )
    except outbound.OutboundError as failure:
        return _Outcome(f"sink_{failure.code}", failure.status)
    error = outbox.http_error(response.status)
    return _Outcome(f"sink_{error}" if error else "", response.status)


def _record(
    *,
    transfer: Transfer,
    started: datetime,
    outcome: _Outcome,
    body_size: int | None = None,
    body_sha256: str = "",
    content_type: str = "",
) -> TransferAttempt:
    """Record what the try came to; if that fails, record a final failure instead.

    A try whose outcome cannot be written (the database refuses a value, the
    evidence cannot be signed) must not leave its transfer to the sweeper,
    which would hand it on and deliver again: it fails, in a transaction of its
    own, with `outcome_unrecorded`. Should even that fail, the error is raised;
    the sweeper then ends the transfer once its tries are used up.
    """
    try:
        return _record_outcome(
            transfer=transfer, started=started, outcome=outcome, body_size=body_size,
            body_sha256=body_sha256, content_type=content_type,
        )  # fmt: skip
    except Exception:  # whatever failed, the transfer must still end
        logger.exception(
            "transfer %s try %d: its outcome (%s) could not be recorded",
            transfer.id, transfer.attempts, outcome.error or outcome.http_status,
        )  # fmt: skip
    return _record_failure(
        transfer=transfer, started=started, error="outcome_unrecorded",
        http_status=outcome.http_status,
    )  # fmt: skip


@transaction.atomic
def _record_failure(
    *, transfer: Transfer, started: datetime, error: str, http_status: int | None = None
) -> TransferAttempt:
    """End the transfer `failed` with `error`: its attempt row, state and notification."""
    now = timezone.now()
    attempt = TransferAttempt.objects.create(
        transfer=transfer, started_at=started, finished_at=now,
        outcome=TransferAttempt.Outcome.FAILED, http_status=http_status, error=error,
        duration_ms=outbox.duration_ms(started, now),
    )  # fmt: skip
    changes = {"status": Transfer.Status.FAILED, "finished_at": now, "error_code": error}
    updated = Transfer.objects.filter(
        pk=transfer.pk, attempts=transfer.attempts,
        status__in=[Transfer.Status.FETCHING, Transfer.Status.DELIVERING],
    ).update(**changes)  # fmt: skip
    logger.info("transfer %s try %d: failed %s", transfer.id, transfer.attempts, error)
    if updated:
        _evidence(transfer=transfer, result=TransferAttempt.Outcome.FAILED, error=error,
                  changes=changes)  # fmt: skip
    return attempt


@transaction.atomic
def _record_outcome(
    *,
    transfer: Transfer,
    started: datetime,
    outcome: _Outcome,
    body_size: int | None,
    body_sha256: str,
    content_type: str,
) -> TransferAttempt:
    """Write the try's attempt row and the transfer's new state together, with its evidence."""
    now = timezone.now()
    error = outcome.error
    result: str
    if error in _STOPPED.values():
        result = TransferAttempt.Outcome.CANCELLED
    else:
        result = outbox.verdict(
            error=error, attempts=transfer.attempts,
            max_attempts=settings.OMADATA_RELAY_MAX_ATTEMPTS,
        )  # fmt: skip
    attempt = TransferAttempt.objects.create(
        transfer=transfer, started_at=started, finished_at=now, outcome=result,
        http_status=outcome.http_status, error=error,
        duration_ms=outbox.duration_ms(started, now),
    )  # fmt: skip
    delay = 0.0
    if result == TransferAttempt.Outcome.RETRY:
        delay = backoff_delay(attempt=transfer.attempts)
        changes = {
            "status": Transfer.Status.QUEUED,
            "next_attempt_at": now + timedelta(seconds=delay),
            "error_code": error,
        }
    else:
        changes = {"status": _FINAL[result], "finished_at": now, "error_code": error}
        if result == TransferAttempt.Outcome.DELIVERED:
            changes.update(byte_count=body_size, sha256=body_sha256, content_type=content_type)
            # The delivery receipt continues the consent's chain: lock the consent, as
            # every other receipt of it does, before the chain is read, and first (before
            # the transfer's row), as a transfer request does. Else a pause committing
            # meanwhile and this receipt would both name the same receipt before them.
            transfer.consent.status = (
                Consent.objects.select_for_update(of=("self",))
                .values_list("status", flat=True)
                .get(pk=transfer.consent_id)
            )
    # Fenced by the try's number: a try that outlived its lease must not undo
    # what a newer try of the same transfer has recorded.
    updated = Transfer.objects.filter(
        pk=transfer.pk, attempts=transfer.attempts,
        status__in=[Transfer.Status.FETCHING, Transfer.Status.DELIVERING],
    ).update(**changes)  # fmt: skip
    logger.info(
        "transfer %s try %d: %s %s",
        transfer.id, transfer.attempts, result, error or outcome.http_status,
    )  # fmt: skip
    if not updated:
        return attempt
    if result == TransferAttempt.Outcome.RETRY:
        transaction.on_commit(lambda: _enqueue(transfer.id, countdown=delay))
    else:
        _evidence(transfer=transfer, result=result, error=error, changes=changes)
    return attempt


_FINAL: dict[str, str] = {
    TransferAttempt.Outcome.DELIVERED: Transfer.Status.DELIVERED,
    TransferAttempt.Outcome.FAILED: Transfer.Status.FAILED,
    TransferAttempt.Outcome.CANCELLED: Transfer.Status.CANCELLED,
}


def _evidence(*, transfer: Transfer, result: str, error: str, changes: dict) -> None:
    """The receipt and notifications of a transfer's final state, in the same transaction."""
    consent = transfer.consent
    data = {"transfer_id": str(transfer.id), "status": changes["status"]}
    if result == TransferAttempt.Outcome.DELIVERED:
        receipt = transfer_receipt_issue(
            consent=consent, transfer_id=str(transfer.id),
            byte_count=changes["byte_count"], sha256=changes["sha256"],
        )  # fmt: skip
        data.update(byte_count=changes["byte_count"], sha256=changes["sha256"])
        data["receipt"] = receipt.jws
        _notify(consent=consent, event="transfer.delivered", data=data, source_too=True)
        return
    data["error_code"] = error
    event = (
        "transfer.cancelled" if result == TransferAttempt.Outcome.CANCELLED else "transfer.failed"
    )
    _notify(consent=consent, event=event, data=data)


def _notify(*, consent: Consent, event: str, data: dict, source_too: bool = False) -> None:
    """Tell the consent's sink (and with `source_too`, its source) about one of its transfers.

    `data` carries only the operator's own codes, never a peer's words.
    """
    data = {"consent_id": str(consent.id), **data}
    for service in (consent.source, consent.sink) if source_too else (consent.sink,):
        notify(service=service, event=event, data=data)


def backoff_delay(*, attempt: int) -> float:
    """Seconds to wait after failed try `attempt`."""
    return outbox.backoff(
        attempt=attempt,
        base=settings.OMADATA_RELAY_BACKOFF_BASE,
        cap=settings.OMADATA_RELAY_BACKOFF_CAP,
    )


# -- the sweeper ----------------------------------------------------------------------------


def transfer_sweep() -> list[UUID]:
    """Re-enqueue transfers whose relay message was lost; return their ids, oldest first.

    Overdue by more than OMADATA_SWEEP_AFTER: a queued transfer (the broker was
    down at commit, or lost the message), or one in `fetching`/`delivering`
    whose lease ran out (its worker died). Those go back to `queued`, due now;
    the try they were on is counted, and the sink's Idempotency-Key makes a
    repeated delivery harmless. A queued transfer under a consent that has
    stopped is made due at once, so that the relay cancels it now. A transfer
    whose tries are used up is not handed on but ends `failed`
    (`attempts_exhausted`), with its attempt row and the sink's notification.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OMADATA_SWEEP_AFTER)
    max_attempts = settings.OMADATA_RELAY_MAX_ATTEMPTS
    unfinished = Transfer.objects.exclude(status__in=FINAL_STATUSES)
    outbox.end_each(
        outbox.exhausted(unfinished, cutoff=cutoff, max_attempts=max_attempts),
        lambda pk: _transfer_exhaust(transfer_id=pk, now=now, cutoff=cutoff),
    )
    overdue = unfinished.filter(
        Q(next_attempt_at__lt=cutoff)
        | Q(status=Transfer.Status.QUEUED, next_attempt_at__gt=now)
        & ~Q(consent__status=Consent.Status.ACTIVE)
    )
    # Filtered again on the row's own columns: a row claimed meanwhile is left alone.
    reset = unfinished.filter(Q(next_attempt_at__lt=cutoff) | Q(status=Transfer.Status.QUEUED))
    return outbox.sweep(
        overdue=overdue, reset=reset, now=now, task=_task(), max_attempts=max_attempts,
        status=Transfer.Status.QUEUED,
    )  # fmt: skip


def _transfer_exhaust(*, transfer_id: UUID, now: datetime, cutoff: datetime) -> None:
    """End a transfer whose tries are used up and whose last try never ended: `failed`.

    With its evidence, as a try's failure: an attempt row (`attempts_exhausted`,
    standing for the try that never recorded its end) and the sink's
    notification. Runs in the sweeper's transaction for this row.
    """
    changes = {
        "status": Transfer.Status.FAILED, "finished_at": now, "error_code": "attempts_exhausted",
    }  # fmt: skip
    # The same conditions as the read that chose it: a row a worker recorded
    # meanwhile is left as it is.
    ended = Transfer.objects.filter(
        pk=transfer_id, attempts__gte=settings.OMADATA_RELAY_MAX_ATTEMPTS,
        next_attempt_at__lt=cutoff,
    ).exclude(status__in=FINAL_STATUSES).update(**changes)  # fmt: skip
    if not ended:
        return
    transfer = Transfer.objects.select_related("consent__source", "consent__sink").get(
        pk=transfer_id
    )
    TransferAttempt.objects.create(
        transfer=transfer, started_at=now, finished_at=now, outcome=TransferAttempt.Outcome.FAILED,
        error="attempts_exhausted", duration_ms=0,
    )  # fmt: skip
    logger.warning("transfer %s: tries used up, the last never ended; failed", transfer_id)
    _evidence(transfer=transfer, result=TransferAttempt.Outcome.FAILED,
              error="attempts_exhausted", changes=changes)  # fmt: skip
