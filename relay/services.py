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
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from common import headers, outbound, outbox
from common.errors import Conflict, Unprocessable
from consent.models import Consent, ConsentSource, Frequency, Period, ServiceLink
from consent.receipts import transfer_receipt_issue
from ledger import jws
from registry.models import Organisation, Service
from relay.models import (
    FINAL_STATUSES,
    UNFINISHED_STATUSES,
    Transfer,
    TransferAttempt,
    TransferPart,
)
from relay.tokens import transfer_token
from webhooks.services import notify

logger = logging.getLogger(__name__)

_STOPPED: dict[str, str] = {
    Consent.Status.WITHDRAWN: "consent_withdrawn",
    Consent.Status.PAUSED: "consent_paused",
    Consent.Status.EXPIRED: "consent_expired",
}
# A try owns its transfer in these states, fenced by its number.
_TRYING = [Transfer.Status.FETCHING, Transfer.Status.DELIVERING]
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
    """Every data type the consent's sources give (its data types), read from its sources.

    Through .all(): the consent is read with its sources prefetched where it matters.
    """
    return sorted({key for term in consent.sources.all() for key in term.data_types})


def _limit_used(consent: Consent, now: datetime) -> tuple[QuerySet[Transfer], int]:
    """The consent's transfers that count against its frequency limit at `now`, and the limit."""
    used = _counted(Transfer.objects.filter(consent=consent))
    if consent.frequency == Frequency.ONE_OFF:
        return used, 1
    window, limit = _recurrence(consent)
    return used.filter(created_at__gt=now - window), limit


def _counted(transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    """The `transfers` that use a consent's frequency limit up.

    A failed or cancelled run does only if a part of it reached the sink: asked
    again, it would send that part's data again.
    """
    delivered = TransferPart.objects.filter(
        transfer=OuterRef("pk"), status=TransferPart.Status.DELIVERED
    )
    return transfers.exclude(
        Q(status__in=[Transfer.Status.FAILED, Transfer.Status.CANCELLED]) & ~Exists(delivered)
    )


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
    types (default: all of them), and so to the sources they come from; asking
    for any other is a ValidationError on `data_types`, and no source is asked.
    """
    allowed = _consent_keys(consent)
    wanted = sorted(set(data_types)) if data_types is not None else allowed
    outside = sorted(set(wanted) - set(allowed))
    if outside or not wanted:
        raise ValidationError(
            {
                "data_types": [
                    ValidationError(
                        _("No source of the consent gives: %(keys)s.")
                        % {"keys": ", ".join(outside)},
                        code="outside_consent",
                    )
                ]
            }
        )
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
    sources = consent.source_parts()
    # Every source, not only those asked now: a source suspended stops the consent whole,
    # as its link removed does, until the city approves it again.
    if any(s.service.status != Service.Status.APPROVED for s in sources) or (
        consent.sink.status != Service.Status.APPROVED
    ):
        raise Conflict("service_unavailable", _("A service in this consent is not in use."))
    wanted = data_types if data_types is not None else _consent_keys(consent)
    _check_frequency(consent, now)
    _check_unfinished(consent)
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                consent=consent, requested_by=organisation, idempotency_key=idempotency_key,
                request_hash=digest, next_attempt_at=now, scheduled=scheduled,
                data_types=wanted,
            )  # fmt: skip
            # A part for each source that gives any of the data types asked, in the
            # consent's order, numbered from 1 within the run.
            asked = [
                (term.service, [key for key in term.data_types if key in wanted])
                for term in sources
            ]
            TransferPart.objects.bulk_create(
                TransferPart(transfer=transfer, number=number, source=service, data_types=keys)
                for number, (service, keys) in enumerate(
                    [(service, keys) for service, keys in asked if keys], start=1
                )
            )
    except IntegrityError:
        _check_unfinished(consent)  # the constraint behind the check, should it ever be passed
        raise Conflict(
            "idempotency_key_in_use",
            _("A request with this Idempotency-Key is being handled; try again."),
        ) from None
    transaction.on_commit(lambda: _enqueue(transfer.id))
    return transfer


def _locked(consent_id: UUID) -> Consent:
    """The consent, its row locked until commit, with its sources and sink (not locked) read too."""
    return (
        Consent.objects.select_for_update(of=("self",))
        .select_related("sink")
        .prefetch_related(Prefetch("sources", ConsentSource.objects.select_related("service")))
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
        _counted(Transfer.objects.filter(consent=OuterRef("pk")))
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
                digest=request_hash(consent_id=consent.pk, data_types=_consent_keys(locked)),
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
    """A claimed transfer with everything its try reads, in a fixed number of statements.

    One reads the transfer, its consent (the status and expiry checked before
    the fetch), the sink and its organisation, and the resident's pairwise id at
    the sink (`sink_subject`: None without an active link); the others the
    consent's data types and sources (for the receipts) and the run's parts,
    each with its source, its organisation and the resident's pairwise id there
    (`subject`). Nothing here is read again in the try: the consent's terms
    never change, and a link removed meanwhile withdraws the consent, which the
    move to `delivering` re-checks.
    """
    links = ServiceLink.objects.filter(status=ServiceLink.Status.ACTIVE).order_by("pk")
    parts = (
        TransferPart.objects.select_related("source__organisation", "receipt__entry")
        .annotate(
            subject=Subquery(
                links.filter(
                    resident=OuterRef("transfer__consent__resident"), service=OuterRef("source")
                ).values("subject")[:1]
            )
        )
        .order_by("number")
    )
    terms = ConsentSource.objects.select_related("service__organisation")
    return (
        Transfer.objects.select_related("consent__sink__organisation")
        .prefetch_related(
            "consent__data_types",
            Prefetch("consent__sources", queryset=terms),
            Prefetch("parts", queryset=parts),
        )
        .annotate(
            sink_subject=Subquery(
                links.filter(
                    resident=OuterRef("consent__resident"), service=OuterRef("consent__sink")
                ).values("subject")[:1]
            ),
        )
        .get(pk=transfer_id)
    )  # fmt: skip


def transfer_relay(*, transfer_id: UUID | str) -> TransferAttempt | None:
    """Make the next try at relaying a transfer, if one is due; return its last record.

    Safe to call any number of times, from any number of workers: only the call
    that claims a due try talks to anyone. A try fetches each part still
    waiting from its source and delivers it to the sink, one after the other;
    the consent is re-checked before the first fetch and before each delivery.
    Each part's outcome is recorded as it comes, so a part delivered is never
    fetched or delivered again. A transient failure of a part (timeout, failed
    connection, 5xx, 429) leaves it waiting, and the run is tried again after a
    backoff until OMADATA_RELAY_MAX_ATTEMPTS; any other failure ends the part
    at once, and the others go on. The bodies are held in this call's memory
    only, one at a time.
    """
    started = timezone.now()
    transfer = transfer_claim(transfer_id=transfer_id)
    if transfer is None:
        return None
    # The consent as the claim's read found it, after the claim: the check before the fetch.
    stop = _stop_reason(transfer.consent)
    if stop:
        return _record(transfer=transfer, started=started, outcome=_Outcome(stop))
    waiting = [part for part in transfer.parts.all() if part.status == TransferPart.Status.QUEUED]
    for index, part in enumerate(waiting):
        # The claim's lease covers one part's fetch and delivery: each further part
        # renews it, so that the sweeper never hands on a run that is still going.
        if index and not _lease_renew(transfer):
            return None
        part_started = timezone.now()
        fetched = _fetch(transfer, part)
        if isinstance(fetched, _Outcome):
            if _record_part(transfer=transfer, part=part, started=part_started, outcome=fetched):
                continue
            return None
        stopped = _delivering(transfer)
        if stopped is None:
            return None  # the try outlived its lease, and a newer one owns the transfer
        if stopped:
            return _record(transfer=transfer, started=started, outcome=_Outcome(stopped))
        body, content_type = fetched
        outcome = _deliver(transfer, part, body=body, content_type=content_type)
        recorded = _record_part(
            transfer=transfer, part=part, started=part_started, outcome=outcome,
            body_size=len(body), body_sha256=hashlib.sha256(body).hexdigest(),
            content_type=content_type,
        )  # fmt: skip
        if not recorded:
            return None
    return _record(transfer=transfer, started=started, outcome=_Outcome())


def _lease_renew(transfer: Transfer) -> bool:
    """Own the try for two more requests from now; False if a newer try owns the transfer."""
    now = timezone.now()
    return bool(
        Transfer.objects.filter(
            pk=transfer.pk, attempts=transfer.attempts, status__in=_TRYING
        ).update(next_attempt_at=outbox.lease_end(now=now, requests=2))
    )


def _stop_reason(consent: Consent) -> str:
    """Why the consent, as last read, no longer allows a transfer; "" if it does."""
    if consent.status in _STOPPED:
        return _STOPPED[consent.status]
    if consent.valid_until <= timezone.now():
        return "consent_expired"  # the expiry sweep has not marked it yet: it is over all the same
    return ""


def _delivering(transfer: Transfer) -> str | None:
    """Move the try to `delivering` if its consent still allows it, right before a delivery.

    The re-check of the consent and the try's fence are one conditional update.
    Return "" once moved, why the consent stops the transfer, or None when the
    try has lost its transfer (its lease ran out and a newer try owns it).
    """
    consent = transfer.consent
    mine = Transfer.objects.filter(pk=transfer.pk, status__in=_TRYING, attempts=transfer.attempts)
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
    return None  # left as it was: when its lease ends, the sweeper hands it on


def _bearer(
    transfer: Transfer, part: TransferPart, service: Service, subject: str | None, **claims: Any
) -> str | _Outcome:
    """The Authorization value for one request about `part` to `service`, or why there is none.

    `subject` is the resident's pairwise id at `service` (see `_claimed`).
    """
    consent = transfer.consent
    if service.status != Service.Status.APPROVED:
        return _Outcome("service_not_approved")
    if subject is None:
        return _Outcome("link_missing")
    # Never more than the consent covers from this source.
    covered = {
        key for term in consent.sources.all() if term.service_id == part.source_id
        for key in term.data_types
    }  # fmt: skip
    token = transfer_token(
        service=service, subject=subject, consent_id=str(consent.id),
        transfer_id=str(transfer.id), data_types=sorted(set(part.data_types) & covered),
        part=part.number, parts=len(transfer.parts.all()), **claims,
    )  # fmt: skip
    return f"Bearer {token}"


def _fetch(transfer: Transfer, part: TransferPart) -> tuple[bytes, str] | _Outcome:
    """GET the part's data from its source; the body and its content type, or why not."""
    source = part.source
    bearer = _bearer(transfer, part, source, part.subject)  # type: ignore[attr-defined]
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
    # Kept with the part and sent on to the sink: it must be one media type of
    # RFC 9110, short enough to keep. An answer without one is octet-stream (8.3).
    declared = response.headers.get("content-type", "")
    content_type = headers.media_type(declared) if declared else "application/octet-stream"
    if content_type is None:
        return _Outcome("source_bad_content_type", response.status)
    return response.body, content_type


def content_digest(body: bytes) -> str:
    """The RFC 9530 Content-Digest field value of `body`."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _deliver(transfer: Transfer, part: TransferPart, *, body: bytes, content_type: str) -> _Outcome:
    """POST the part's body to the sink under the part's own Idempotency-Key."""
    sink = transfer.consent.sink
    source = part.source
    origin = {"id": str(source.id), "slug": source.slug, "organisation": source.organisation.name}
    bearer = _bearer(transfer, part, sink, transfer.sink_subject, source=origin)  # type: ignore[attr-defined]
    if isinstance(bearer, _Outcome):
        return _Outcome(f"sink_{bearer.error}")
    headers = {
        "Authorization": bearer,
        "Idempotency-Key": part.idempotency_key,
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


def _record_part(
    *,
    transfer: Transfer,
    part: TransferPart,
    started: datetime,
    outcome: _Outcome,
    body_size: int | None = None,
    body_sha256: str = "",
    content_type: str = "",
) -> bool:
    """Record what one part's try came to; False when the try has lost its transfer.

    A part's outcome that cannot be written (the database refuses a value, the
    evidence cannot be signed) must not leave its transfer to the sweeper,
    which would hand it on and deliver again: the run fails, in a transaction
    of its own, with `outcome_unrecorded`.
    """
    try:
        return _record_part_outcome(
            transfer=transfer, part=part, started=started, outcome=outcome,
            body_size=body_size, body_sha256=body_sha256, content_type=content_type,
        )  # fmt: skip
    except Exception:  # whatever failed, the transfer must still end
        logger.exception(
            "transfer %s part %d try %d: its outcome (%s) could not be recorded",
            transfer.id, part.number, transfer.attempts, outcome.error or outcome.http_status,
        )  # fmt: skip
    _record_failure(
        transfer=transfer, started=started, error="outcome_unrecorded",
        http_status=outcome.http_status,
    )  # fmt: skip
    return False


@transaction.atomic
def _record_part_outcome(
    *,
    transfer: Transfer,
    part: TransferPart,
    started: datetime,
    outcome: _Outcome,
    body_size: int | None,
    body_sha256: str,
    content_type: str,
) -> bool:
    """The part's attempt row and its new state together, with its receipt if delivered."""
    now = timezone.now()
    error = outcome.error
    result = outbox.verdict(
        error=error, attempts=transfer.attempts, max_attempts=settings.OMADATA_RELAY_MAX_ATTEMPTS
    )
    if result == TransferAttempt.Outcome.DELIVERED:
        # The delivery receipt continues the consent's chain: lock the consent, as
        # every other receipt of it does, before the chain is read, and first (before
        # the transfer's row), as a transfer request does. Else a pause committing
        # meanwhile and this receipt would both name the same receipt before them.
        transfer.consent.status = (
            Consent.objects.select_for_update(of=("self",))
            .values_list("status", flat=True)
            .get(pk=transfer.consent_id)
        )
    # Fenced by the try's number: a try that outlived its lease must not undo what a
    # newer try of the same transfer has recorded. The lock keeps the fence until commit.
    owned = (
        Transfer.objects.select_for_update()
        .filter(pk=transfer.pk, attempts=transfer.attempts, status__in=_TRYING)
        .exists()
    )
    TransferAttempt.objects.create(
        transfer=transfer, part=part, started_at=started, finished_at=now, outcome=result,
        http_status=outcome.http_status, error=error,
        duration_ms=outbox.duration_ms(started, now),
    )  # fmt: skip
    logger.info(
        "transfer %s part %d try %d: %s %s",
        transfer.id, part.number, transfer.attempts, result, error or outcome.http_status,
    )  # fmt: skip
    if not owned:
        return False
    part.error_code = error
    if result == TransferAttempt.Outcome.DELIVERED:
        part.status, part.delivered_at = TransferPart.Status.DELIVERED, now
        part.byte_count, part.sha256, part.content_type = body_size, body_sha256, content_type
        part.receipt = transfer_receipt_issue(
            consent=transfer.consent, transfer_id=str(transfer.id), byte_count=body_size or 0,
            sha256=body_sha256, part=part.number, parts=len(transfer.parts.all()),
            source=part.source,
        )  # fmt: skip
    elif result == TransferAttempt.Outcome.FAILED:
        part.status = TransferPart.Status.FAILED
    part.save(
        update_fields=[
            "status", "error_code", "delivered_at", "byte_count", "sha256", "content_type",
            "receipt",
        ]
    )  # fmt: skip
    return True


def _record(*, transfer: Transfer, started: datetime, outcome: _Outcome) -> TransferAttempt | None:
    """End the try: the run waits for its next try, or ends, with its evidence.

    `outcome` is empty when every waiting part has been tried; else it says why
    the consent stopped the run, and every part still waiting is cancelled.
    Should that fail, the run fails with `outcome_unrecorded` (see _record_part).
    """
    try:
        return _record_outcome(transfer=transfer, started=started, outcome=outcome)
    except Exception:  # whatever failed, the transfer must still end
        logger.exception(
            "transfer %s try %d: its outcome (%s) could not be recorded",
            transfer.id, transfer.attempts, outcome.error or "parts tried",
        )  # fmt: skip
    return _record_failure(transfer=transfer, started=started, error="outcome_unrecorded")


@transaction.atomic
def _record_failure(
    *, transfer: Transfer, started: datetime, error: str, http_status: int | None = None
) -> TransferAttempt:
    """End the transfer `failed` with `error`: its attempt row, state and notification."""
    # The parts as the database has them: a part's outcome that failed to be written
    # may have changed the copy this try read.
    getattr(transfer, "_prefetched_objects_cache", {}).pop("parts", None)
    now = timezone.now()
    attempt = TransferAttempt.objects.create(
        transfer=transfer, started_at=started, finished_at=now,
        outcome=TransferAttempt.Outcome.FAILED, http_status=http_status, error=error,
        duration_ms=outbox.duration_ms(started, now),
    )  # fmt: skip
    changes = {"status": Transfer.Status.FAILED, "finished_at": now, "error_code": error}
    updated = Transfer.objects.filter(
        pk=transfer.pk, attempts=transfer.attempts, status__in=_TRYING
    ).update(**changes)
    logger.info("transfer %s try %d: failed %s", transfer.id, transfer.attempts, error)
    if updated:
        _end_parts(transfer, TransferPart.Status.FAILED, error)
        _evidence(transfer=transfer, event="transfer.failed", changes=changes)
    return attempt


def _end_parts(transfer: Transfer, status: str, error: str) -> None:
    """The run's parts still waiting end with it, as `status`, saying why (also those read)."""
    TransferPart.objects.filter(transfer=transfer, status=TransferPart.Status.QUEUED).update(
        status=status, error_code=error
    )
    for part in getattr(transfer, "_prefetched_objects_cache", {}).get("parts", []):
        if part.status == TransferPart.Status.QUEUED:
            part.status, part.error_code = status, error


@transaction.atomic
def _record_outcome(
    *, transfer: Transfer, started: datetime, outcome: _Outcome
) -> TransferAttempt | None:
    """The run's new state once its try is over, with its evidence.

    Stopped by the consent: an attempt row, the run and its waiting parts
    cancelled. Otherwise from its parts: some still waiting, the run waits for
    a backoff; none, it is delivered if every part was, and failed otherwise,
    with the first failed part's code.
    """
    now = timezone.now()
    # As this try left them: each part's outcome was written as it came, under the fence.
    parts = list(transfer.parts.all())
    waiting = [part for part in parts if part.status == TransferPart.Status.QUEUED]
    attempt = None
    delay = 0.0
    result: str
    if outcome.error:
        result, error = TransferAttempt.Outcome.CANCELLED, outcome.error
        attempt = TransferAttempt.objects.create(
            transfer=transfer, started_at=started, finished_at=now, outcome=result,
            error=error, duration_ms=outbox.duration_ms(started, now),
        )  # fmt: skip
    elif waiting:
        # A part left waiting was judged worth another try (_record_part_outcome): a
        # part past the last try, or failing for good, ended `failed` there.
        result, error = TransferAttempt.Outcome.RETRY, waiting[0].error_code
    else:
        failed = [part for part in parts if part.status == TransferPart.Status.FAILED]
        error = failed[0].error_code if failed else ""
        result = TransferAttempt.Outcome.FAILED if failed else TransferAttempt.Outcome.DELIVERED
    if result == TransferAttempt.Outcome.RETRY:
        delay = backoff_delay(attempt=transfer.attempts)
        changes: dict[str, Any] = {
            "status": Transfer.Status.QUEUED,
            "next_attempt_at": now + timedelta(seconds=delay),
            "error_code": error,
        }
    else:
        changes = {"status": _FINAL[result], "finished_at": now, "error_code": error}
        delivered = [part for part in parts if part.status == TransferPart.Status.DELIVERED]
        changes["byte_count"] = (
            sum(part.byte_count or 0 for part in delivered) if delivered else None
        )
        if len(parts) == 1 and delivered:
            changes.update(sha256=delivered[0].sha256, content_type=delivered[0].content_type)
    updated = Transfer.objects.filter(
        pk=transfer.pk, attempts=transfer.attempts, status__in=_TRYING
    ).update(**changes)
    logger.info("transfer %s try %d: %s %s", transfer.id, transfer.attempts, result, error)
    if not updated:
        return attempt
    if result == TransferAttempt.Outcome.RETRY:
        transaction.on_commit(lambda: _enqueue(transfer.id, countdown=delay))
        return attempt
    if waiting:
        _end_parts(transfer, _PART_END[result], error)
    _evidence(transfer=transfer, event=_EVENTS[result], changes=changes)
    return attempt


_FINAL: dict[str, str] = {
    TransferAttempt.Outcome.DELIVERED: Transfer.Status.DELIVERED,
    TransferAttempt.Outcome.FAILED: Transfer.Status.FAILED,
    TransferAttempt.Outcome.CANCELLED: Transfer.Status.CANCELLED,
}
_PART_END: dict[str, str] = {
    TransferAttempt.Outcome.FAILED: TransferPart.Status.FAILED,
    TransferAttempt.Outcome.CANCELLED: TransferPart.Status.CANCELLED,
}
_EVENTS: dict[str, str] = {
    TransferAttempt.Outcome.DELIVERED: "transfer.delivered",
    TransferAttempt.Outcome.FAILED: "transfer.failed",
    TransferAttempt.Outcome.CANCELLED: "transfer.cancelled",
}


def _evidence(*, transfer: Transfer, event: str, changes: dict) -> None:
    """The notifications of a run's final state, in the same transaction.

    The sink's carry each part's outcome and the receipts of the parts
    delivered (issued as each was), a source's its own part only; a run of one
    part also states its size, digest and receipt at the top, as before runs had
    parts. Only the operator's own codes, never a peer's words.
    """
    consent = transfer.consent
    parts = transfer.parts.all()
    rows = [
        {
            "number": part.number, "source": str(part.source_id), "status": part.status,
            "byte_count": part.byte_count, "sha256": part.sha256, "error_code": part.error_code,
            "receipt": part.receipt.jws if part.receipt is not None else None,
        }
        for part in parts
    ]  # fmt: skip
    data: dict[str, Any] = {
        "consent_id": str(consent.id), "transfer_id": str(transfer.id),
        "status": changes["status"], "parts": rows,
    }  # fmt: skip
    if event == "transfer.delivered" and len(rows) == 1:
        data.update(
            byte_count=changes["byte_count"], sha256=changes["sha256"], receipt=rows[0]["receipt"]
        )
    if event != "transfer.delivered":
        data["error_code"] = changes["error_code"]
    notify(service=consent.sink, event=event, data=data)
    if event != "transfer.delivered":
        return
    # A source is told of its own part only: another's digest would let it confirm a
    # guess at what that source holds about the resident.
    for part, row in zip(parts, rows, strict=True):
        notify(service=part.source, event=event, data={**data, "parts": [row]})


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
    transfer = Transfer.objects.select_related("consent__sink").get(pk=transfer_id)
    TransferAttempt.objects.create(
        transfer=transfer, started_at=now, finished_at=now, outcome=TransferAttempt.Outcome.FAILED,
        error="attempts_exhausted", duration_ms=0,
    )  # fmt: skip
    logger.warning("transfer %s: tries used up, the last never ended; failed", transfer_id)
    _end_parts(transfer, TransferPart.Status.FAILED, "attempts_exhausted")
    _evidence(transfer=transfer, event="transfer.failed", changes=changes)
