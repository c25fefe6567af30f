"""The figures per service: what each asked residents, what they answered, what was relayed.

`service_figures` is for someone `ledger.access.can_audit` lets in; the views
check that first. `public_figures` is for anyone, on a service's transparency
page: fewer figures, and none below SMALL_FIGURE. Nothing here selects a
resident: the figures are counts.

The queries are a fixed few whatever the number of services, receipts and
transfers: one for the services, one per group of figures, counted by the
database (`values` and `Count`), and on SQLite one more for the medians.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DateField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from consent.models import Consent, ConsentRequest, Receipt
from registry.models import Service
from relay.models import Transfer, TransferPart

# The consent figures are counted from the receipts: they are the signed evidence of each
# answer and change, where a consent's status says only where it stands now.
CONSENT_EVENTS = {
    Receipt.Event.GRANTED: "granted",
    Receipt.Event.REFUSED: "refused",
    Receipt.Event.WITHDRAWN: "withdrawn",
    Receipt.Event.EXPIRED: "expired",
}
TRANSFER_OUTCOMES = (
    Transfer.Status.DELIVERED, Transfer.Status.FAILED, Transfer.Status.CANCELLED,
)  # fmt: skip
# A transfer's services: the figures are kept apart by the role the service had in it. A
# run has a part from each source it fetched from: it counts once for each, as a source.
ROLES = {"sink": "consent__sink_id", "source": "parts__source_id"}


@dataclass
class TransferFigures:
    """Transfers with a service in one role, by outcome; the median from request to delivery."""

    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    # None when nothing was delivered.
    median: timedelta | None = None

    @property
    def any(self) -> bool:
        return bool(self.delivered or self.failed or self.cancelled)


@dataclass
class ServiceFigures:
    """One service's figures. The consent figures are those of the service as the sink:
    the sink asks, and the source is named in what it asks for."""

    service: Service
    requested: int = 0
    granted: int = 0
    refused: int = 0
    withdrawn: int = 0
    expired: int = 0
    as_sink: TransferFigures = field(default_factory=TransferFigures)
    as_source: TransferFigures = field(default_factory=TransferFigures)

    @property
    def any_consents(self) -> bool:
        return bool(
            self.requested or self.granted or self.refused or self.withdrawn or self.expired
        )


class _Median(Aggregate):
    """PostgreSQL's `percentile_cont(0.5)`: the median, interpolated between the middle two."""

    function = "percentile_cont"
    name = "median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def service_figures(
    *, from_date: date | None = None, to_date: date | None = None
) -> list[ServiceFigures]:
    """The figures of every approved or suspended service, and of any other that has some,
    by slug.

    `from_date` and `to_date` are whole days in the operator's time zone, both
    included: a request and a transfer count by when they were made, an answer
    by when its receipt was signed. A transfer's median is over those delivered,
    from when it was requested to when it was delivered.
    """
    since = _day_start(from_date) if from_date is not None else None
    until = _day_start(to_date + timedelta(days=1)) if to_date is not None else None
    figures: dict[UUID, dict[str, Any]] = defaultdict(dict)
    requests = _between(ConsentRequest.objects.all(), "created_at", since, until)
    for row in requests.values("sink_id").annotate(n=Count("pk")).order_by():
        figures[row["sink_id"]]["requested"] = row["n"]
    for sink_id, name, n in _answers(since, until):
        figures[sink_id][name] = n
    transfers = _between(Transfer.objects.all(), "created_at", since, until)
    for role, path in ROLES.items():
        for service_id, role_figures in _transfer_figures(transfers, path).items():
            figures[service_id][f"as_{role}"] = role_figures
    if connection.vendor != "postgresql":
        for role, medians in _medians_in_python(transfers).items():
            for service_id, median in medians.items():
                figures[service_id][f"as_{role}"].median = median
    services = Service.objects.filter(
        Q(status__in=[Service.Status.APPROVED, Service.Status.SUSPENDED]) | Q(pk__in=figures)
    ).order_by("slug")
    return [ServiceFigures(service=service, **figures.get(service.pk, {})) for service in services]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _between(
    rows: QuerySet[Any], field_name: str, since: datetime | None, until: datetime | None
) -> QuerySet[Any]:
    if since is not None:
        rows = rows.filter(**{f"{field_name}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{field_name}__lt": until})
    return rows


def _answers(since: datetime | None, until: datetime | None) -> Iterable[tuple[UUID, str, int]]:
    """(sink id, figure, count) of the answer and change receipts: one query.

    A refusal's receipt names the request it answers; the others name their consent.
    """
    receipts = _between(
        Receipt.objects.filter(event__in=CONSENT_EVENTS), "entry__created_at", since, until
    )
    rows = (
        receipts.annotate(sink_id=Coalesce("consent__sink_id", "request__sink_id"))
        .values("sink_id", "event")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        yield row["sink_id"], CONSENT_EVENTS[row["event"]], row["n"]


def _transfer_figures(transfers: QuerySet[Transfer], path: str) -> dict[UUID, TransferFigures]:
    """Each service's transfers in the role `path` leads to, by outcome: one query.

    On PostgreSQL the same query takes the median of the delivered ones.
    """
    counts: dict[str, Any] = {
        str(status): Count("pk", filter=Q(status=status)) for status in TRANSFER_OUTCOMES
    }
    if connection.vendor == "postgresql":
        duration = ExpressionWrapper(
            F("finished_at") - F("created_at"), output_field=DurationField()
        )
        counts["median"] = _Median(
            duration, filter=Q(status=Transfer.Status.DELIVERED, finished_at__isnull=False),
            output_field=DurationField(),
        )  # fmt: skip
    # A run has one part per source, so grouping by a source counts each transfer once.
    rows = transfers.values(service_id=F(path)).annotate(**counts).order_by()
    return {
        service_id: TransferFigures(**row)
        for row in rows
        if (service_id := row.pop("service_id")) is not None
    }


def _medians_in_python(transfers: QuerySet[Transfer]) -> dict[str, dict[UUID, timedelta]]:
    """Each service's median time to delivery in each role, where the database has no
    percentile function (SQLite): one query, and time and memory in proportion to the
    delivered transfers it reads. PostgreSQL computes it in `_transfer_figures` instead.
    """
    durations: dict[str, dict[UUID, list[timedelta]]] = {role: defaultdict(list) for role in ROLES}
    delivered = transfers.filter(status=Transfer.Status.DELIVERED, finished_at__isnull=False)
    # The join gives a row per source of a transfer: its sink counts it on the first only.
    seen: set[UUID] = set()
    for transfer_id, sink_id, source_id, created_at, finished_at in delivered.values_list(
        "pk", ROLES["sink"], ROLES["source"], "created_at", "finished_at"
    ).order_by():
        if transfer_id not in seen:
            seen.add(transfer_id)
            durations["sink"][sink_id].append(finished_at - created_at)
        if source_id is not None:
            durations["source"][source_id].append(finished_at - created_at)
    return {
        role: {service_id: _median(times) for service_id, times in by_service.items()}
        for role, by_service in durations.items()
    }


def _median(times: list[timedelta]) -> timedelta:
    """As PostgreSQL's `percentile_cont(0.5)`: between the middle two, for an even count."""
    times.sort()
    middle = len(times) // 2
    return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2


# -- the public figures of one service -------------------------------------------------

# No figure below this is shown to the public: a count of one or two people, with what
# else a reader knows, may say who they are.
SMALL_FIGURE = 5
PUBLIC_MONTHS = 12


@dataclass(frozen=True)
class PublicFigure:
    """A count as the public sees it: `count`, or None with why it is not shown."""

    count: int | None
    # "small": below SMALL_FIGURE; "derivable": shown, it would let a reader work out a
    # figure below SMALL_FIGURE from the others.
    hidden: str = ""


@dataclass(frozen=True)
class PublicFigures:
    """A service's consents now, and its deliveries in each of the last complete months."""

    given: PublicFigure
    active: PublicFigure
    withdrawn: PublicFigure
    # (first day of the month, deliveries), oldest first.
    deliveries: list[tuple[date, PublicFigure]]


def _consents_of(service: Service) -> QuerySet[Consent]:
    """The consents of `service`: those it is the sink or one of the sources of.

    The counts below are distinct, so a row the join with the sources repeats
    counts once. Its deliveries are fewer: a source counts only the runs it had a
    part in.
    """
    return Consent.objects.filter(Q(sink=service) | Q(sources__service=service))


def public_figures(*, service: Service, today: date | None = None) -> PublicFigures:
    """`service`'s figures for its public transparency page: two queries.

    Consents given (every consent of the service, whatever became of it), active
    and withdrawn, as they stand now; deliveries of its transfers per month over
    the PUBLIC_MONTHS complete months before `today`'s (the operator's time
    zone), by when each was delivered. Only complete months: their figures do
    not change from one day to the next, so comparing two days' pages tells
    nothing of who was relayed in between.

    No figure below SMALL_FIGURE is shown, and no figure that would let a reader
    work one out: the consents given are the active, the withdrawn and the rest
    (paused, expired), so they are shown only when each of those three is at
    least SMALL_FIGURE. Months are not added up anywhere.
    """
    today = today or timezone.localdate()
    counts = _consents_of(service).aggregate(
        given=Count("pk", distinct=True),
        active=Count("pk", filter=Q(status=Consent.Status.ACTIVE), distinct=True),
        withdrawn=Count("pk", filter=Q(status=Consent.Status.WITHDRAWN), distinct=True),
    )
    return PublicFigures(
        **consent_figures_public(**counts), deliveries=_monthly_deliveries(service, today)
    )


def consent_figures_public(*, given: int, active: int, withdrawn: int) -> dict[str, PublicFigure]:
    """The consent counts as the public sees them (public_figures says the rule)."""
    rest = given - active - withdrawn
    given_figure = _public(given)
    if given_figure.count is not None and min(active, withdrawn, rest) < SMALL_FIGURE:
        given_figure = PublicFigure(None, "derivable")
    return {
        "given": given_figure,
        "active": _public(active),
        "withdrawn": _public(withdrawn),
    }


def _public(count: int) -> PublicFigure:
    return PublicFigure(count) if count >= SMALL_FIGURE else PublicFigure(None, "small")


def _monthly_deliveries(service: Service, today: date) -> list[tuple[date, PublicFigure]]:
    this_month = today.replace(day=1)
    months = [_month_add(this_month, -n) for n in range(PUBLIC_MONTHS, 0, -1)]
    # A source's runs are those it had a part in: a sink may ask for some sources' data only.
    its_part = TransferPart.objects.filter(transfer=OuterRef("pk"), source=service)
    delivered = Transfer.objects.filter(
        Q(consent__sink=service) | Exists(its_part),
        status=Transfer.Status.DELIVERED,
        finished_at__gte=_day_start(months[0]),
        finished_at__lt=_day_start(this_month),
    )
    rows = (
        delivered.annotate(month=TruncMonth("finished_at", output_field=DateField()))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {row["month"]: row["n"] for row in rows}
    return [(month, _public(counts.get(month, 0))) for month in months]


def _month_add(month: date, months: int) -> date:
    """The first day of the month `months` after `month`'s (before, if negative)."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
