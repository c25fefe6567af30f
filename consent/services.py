"""The consent lifecycle and account links. Each change is one transaction that
writes the new state, its signed receipt and its outbox notifications together."""

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import Conflict
from common.netguard import UnsafeURL, check_service_url, normalize_url
from common.text import unprintable_character
from consent import pages
from consent.models import (
    Consent,
    ConsentRequest,
    ConsentSource,
    Frequency,
    LanguagePreference,
    LinkToken,
    Receipt,
    RequestSource,
    ServiceLink,
    sources_with_services,
)
from consent.receipts import (
    consent_receipt_issue,
    link_receipt_issue,
    refusal_receipt_issue,
    sha256_hex,
)
from ledger import jws
from ledger.access import is_auditor
from registry.models import DataType, Service
from registry.selectors import algorithms_sha256, algorithms_shown, provider_of_user
from registry.services import account_close_record
from webhooks.services import notify

if TYPE_CHECKING:
    from django.contrib.auth.models import User

LINK_TYP = "link+jwt"


def _invalid(field: str | None, code: str, message: str) -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: [ValidationError(message, code=code)]})


def _state_error(code: str, message: str) -> Conflict:
    return Conflict(code, str(message))


# -- requests --------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _check_return_url(sink: Service, url: str) -> str:
    """The return URL in its normalised form, on an origin the sink has registered."""
    try:
        url = normalize_url(url)
        check_service_url(
            url,
            allow_loopback=settings.OMADATA_ALLOW_LOOPBACK_URLS,
            allowed_ports=settings.OMADATA_ALLOWED_PORTS,
        )
    except UnsafeURL as problem:
        raise _invalid("return_url", problem.code, problem.message) from None
    registered = [sink.delivery_url, sink.webhook_url, sink.privacy_policy_url]
    if _origin(url) not in {_origin(u) for u in registered if u}:
        raise _invalid(
            "return_url", "foreign_origin",
            _("The return URL must be on an origin the sink has registered."),
        )  # fmt: skip
    return url


def _check_label(label: str) -> None:
    # A label is one line of text that says what it seems to (common/text.py).
    if unprintable_character(label) is not None:
        raise _invalid(
            "subject_label", "unprintable_character",
            _("The label is one line of plain text: no control or formatting characters."),
        )  # fmt: skip


def _check_frequency(spec: dict) -> None:
    kind, limit, period = spec["kind"], spec.get("limit"), spec.get("period")
    if kind == Frequency.ONE_OFF and (limit is not None or period):
        raise _invalid("frequency", "invalid", _("A one-off consent has no limit or period."))
    if kind == Frequency.RECURRING and (
        not period or limit is None or not 1 <= limit <= settings.OMADATA_MAX_RECURRING_LIMIT
    ):
        raise _invalid(
            "frequency", "invalid",
            _("A recurring consent names a period and a limit from 1 to %(max)d.")
            % {"max": settings.OMADATA_MAX_RECURRING_LIMIT},
        )  # fmt: skip


@dataclass(frozen=True)
class _Part:
    source: Service
    keys: list[str]


def _request_parts(sink: Service, spec: dict) -> list[_Part]:
    """The request's sources in order, each approved, with data types it offers and the sink takes.

    `spec["sources"]`: [{"source": id, "data_types": [keys]}]. A request in the
    one-source form (`spec["source"]`) has its errors named by that form's fields.
    """
    one_source = "source" in spec
    wanted = spec.get("sources") or [{"source": spec["source"], "data_types": spec["data_types"]}]
    if len(wanted) > settings.OMADATA_MAX_CONSENT_SOURCES:
        raise _invalid(
            "sources", "too_many_sources",
            _("A consent may join at most %(max)d sources.")
            % {"max": settings.OMADATA_MAX_CONSENT_SOURCES},
        )  # fmt: skip
    ids = [part["source"] for part in wanted]
    if len(set(ids)) != len(ids):
        raise _invalid(
            "sources", "duplicate_source",
            _("Name each source once, with every data type wanted from it."),
        )  # fmt: skip
    if sink.pk in ids:
        raise _invalid(
            "source" if one_source else "sources", "source_is_sink",
            _("A service cannot be the source of data for itself."),
        )  # fmt: skip
    found = {
        service.pk: service
        for service in Service.objects.filter(
            pk__in=ids, status=Service.Status.APPROVED, is_source=True
        ).prefetch_related("offered_types")
    }
    accepted = {t.key for t in sink.accepted_types.all()}
    parts = []
    for index, part in enumerate(wanted):
        field = "" if one_source else f"sources[{index}]."
        source = found.get(part["source"])
        if source is None:
            raise _invalid(f"{field}source", "unknown_source", _("No approved source has this id."))
        keys = list(dict.fromkeys(part["data_types"]))
        offered = {t.key for t in source.offered_types.all()}
        not_offered = [k for k in keys if k not in offered]
        if not_offered:
            raise _invalid(
                f"{field}data_types", "not_offered",
                _("The source does not offer: %(keys)s.") % {"keys": ", ".join(not_offered)},
            )  # fmt: skip
        not_accepted = [k for k in keys if k not in accepted]
        if not_accepted:
            raise _invalid(
                f"{field}data_types", "not_accepted",
                _("Your sink does not accept: %(keys)s.") % {"keys": ", ".join(not_accepted)},
            )  # fmt: skip
        parts.append(_Part(source=source, keys=sorted(keys)))
    return parts


@transaction.atomic
def consent_request_create(*, sink: Service, spec: dict) -> ConsentRequest:
    """Record a sink's request for consent. The caller has checked that it owns `sink`.

    `spec`: sources [{source (service id), data_types}], purpose {fi, sv, en},
    purpose_category, valid_until, frequency {kind, limit, period}, return_url,
    state, subject_reference, subject_label (shown to the resident as the account
    at the sink they join).
    """
    now = timezone.now()
    if sink.status != Service.Status.APPROVED or not sink.is_sink:
        raise _invalid(None, "sink_not_usable", _("Your service is not an approved sink."))
    parts = _request_parts(sink, spec)
    valid_until = spec["valid_until"]
    if valid_until <= now:
        raise _invalid("valid_until", "in_the_past", _("The validity must end in the future."))
    if valid_until > now + timedelta(days=settings.OMADATA_MAX_CONSENT_DAYS):
        raise _invalid(
            "valid_until", "too_long",
            _("A consent may last at most %(days)d days.")
            % {"days": settings.OMADATA_MAX_CONSENT_DAYS},
        )  # fmt: skip
    _check_frequency(spec["frequency"])
    return_url = _check_return_url(sink, spec["return_url"])
    _check_label(spec.get("subject_label", ""))
    request = ConsentRequest.objects.create(
        sink=sink,
        purpose_fi=spec["purpose"]["fi"], purpose_sv=spec["purpose"]["sv"],
        purpose_en=spec["purpose"]["en"], purpose_category=spec["purpose_category"],
        valid_until=valid_until, frequency=spec["frequency"]["kind"],
        frequency_limit=spec["frequency"].get("limit"),
        frequency_period=spec["frequency"].get("period") or "",
        return_url=return_url, state=spec.get("state", ""),
        subject_reference=spec.get("subject_reference", ""),
        subject_label=spec.get("subject_label", ""),
        expires_at=now + timedelta(seconds=settings.OMADATA_CONSENT_REQUEST_SECONDS),
    )  # fmt: skip
    RequestSource.objects.bulk_create(
        RequestSource(request=request, service=part.source, position=number, data_types=part.keys)
        for number, part in enumerate(parts, start=1)
    )
    keys = {key for part in parts for key in part.keys}
    request.data_types.set(DataType.objects.filter(key__in=keys))
    return request


def request_expired(request: ConsentRequest) -> bool:
    return request.expires_at <= timezone.now()


def consent_request_claim(*, request: ConsentRequest, resident: "User") -> None:
    """Bind an open request to the first resident who acts on it; no one else may answer it.

    Acting is starting a link or answering, by POST. Merely opening the screen
    claims nothing, or whoever opened a forwarded address first would take it.
    """
    if request.resident_id is None:
        ConsentRequest.objects.filter(pk=request.pk, resident__isnull=True).update(
            resident=resident
        )
        request.refresh_from_db(fields=["resident"])
    if request.resident_id != resident.pk:
        raise Http404


def _open_request(request: ConsentRequest, resident: "User") -> ConsentRequest:
    # Lock the request row alone: its services and organisations are only read, and
    # locking them would queue every grant between one source and one sink.
    request = (
        ConsentRequest.objects.select_for_update(of=("self",))
        .select_related("sink__organisation")
        .prefetch_related(sources_with_services(RequestSource))
        .get(pk=request.pk)
    )
    if request.resident_id not in (None, resident.pk):
        raise Http404
    if request.status != ConsentRequest.Status.OPEN:
        raise _state_error("request_answered", _("This request has been answered already."))
    if request.expires_at <= timezone.now():
        raise _state_error("request_expired", _("This request has expired."))
    for service in (*request_sources(request), request.sink):
        if service.status != Service.Status.APPROVED:
            raise _state_error("service_unavailable", _("A service in this request is not in use."))
    return request


def request_sources(terms: ConsentRequest | Consent) -> list[Service]:
    """The services the data comes from, in the sink's order."""
    return [part.service for part in terms.source_parts()]


# -- links ------------------------------------------------------------------------------


def link_active(*, resident: "User", service: Service) -> ServiceLink | None:
    return ServiceLink.objects.filter(
        resident=resident, service=service, status=ServiceLink.Status.ACTIVE
    ).first()


def links_active(*, resident: "User", services: Collection[Service]) -> set[Any]:
    """The ids of those of `services` the resident has an active link with, in one query."""
    return set(
        ServiceLink.objects.filter(
            resident=resident, service__in=services, status=ServiceLink.Status.ACTIVE
        ).values_list("service_id", flat=True)
    )


def _lock_resident(resident: "User") -> None:
    """Take turns per resident: their links and grants see each other's committed work.

    Without it, two grants in two tabs could each miss the other's consent (both
    stay active), and a double-clicked link could insert two live links.
    """
    get_user_model().objects.select_for_update().filter(pk=resident.pk).first()


@dataclass(frozen=True)
class LinkStarted:
    url: str  # send the resident's browser here: the service's link page, with the token
    token: str  # the signed link token in `url`
    attempt: str  # the attempt's id, for the resident's session to remember
    until: datetime  # after this, the attempt can no longer finish


@transaction.atomic
def link_start(*, resident: "User", service: Service, return_to: str) -> LinkStarted:
    """Begin linking `resident` at `service`, from the resident's own session.

    The URL carries a signed, single-use, short-lived link token for the service.
    The caller keeps `attempt` in the resident's session: only a browser with that
    session can finish the link (link_return). Each attempt gets a new pending link
    with a new subject, and an earlier pending one is abandoned: the service may
    have tied that subject to whoever finished its link page.
    """
    _lock_resident(resident)
    if service.status != Service.Status.APPROVED or not service.link_url:
        raise _state_error("service_cannot_link", _("This service does not take links."))
    if link_active(resident=resident, service=service):
        raise _state_error("already_linked", _("You are linked to this service already."))
    ServiceLink.objects.filter(
        resident=resident, service=service, status=ServiceLink.Status.PENDING
    ).update(status=ServiceLink.Status.ABANDONED)
    link = ServiceLink.objects.create(
        resident=resident, service=service, subject=secrets.token_urlsafe(24)
    )
    now = timezone.now()
    expires = now + timedelta(seconds=settings.OMADATA_LINK_TOKEN_SECONDS)
    token = LinkToken.objects.create(
        jti=secrets.token_urlsafe(24), link=link, expires_at=expires, return_to=return_to
    )
    signed = jws.sign(
        {
            "iss": settings.BASE_URL, "aud": str(service.id), "sub": link.subject,
            "jti": token.jti, "iat": int(now.timestamp()), "exp": int(expires.timestamp()),
            # Where sources written before the return code sent the browser back; it no
            # longer finishes a link, but a source that reads it still finds it.
            "return_to": return_to,
        },
        typ=LINK_TYP,
    )  # fmt: skip
    separator = "&" if "?" in service.link_url else "?"
    return LinkStarted(
        url=f"{service.link_url}{separator}link_token={signed}", token=signed, attempt=token.jti,
        until=expires + timedelta(seconds=settings.OMADATA_LINK_RETURN_SECONDS),
    )  # fmt: skip


@dataclass(frozen=True)
class LinkConfirmed:
    link: ServiceLink
    code: str  # for the browser the service sends back; only its hash is kept


@transaction.atomic
def link_confirm(*, service: Service, token: str, reference: str) -> LinkConfirmed:
    """The service confirms a link token with its own reference for the resident.

    The link stays pending: anyone who has the token's URL can bring it to the
    service, so the service is given a single-use code for the browser it sends
    back, and the link is made only when that browser proves to be the session
    that started it (link_return).
    """
    try:
        claims = jws.verify(token, typ=LINK_TYP)
    except jws.JWSError as error:
        raise _invalid("token", f"token_{error.code}", error.message) from None
    if claims.get("aud") != str(service.id):
        raise _invalid("token", "token_wrong_audience", _("This token is for another service."))
    row = LinkToken.objects.select_for_update().filter(jti=claims.get("jti")).first()
    now = timezone.now()
    if row is None:
        raise _invalid("token", "token_unknown", _("This link token is unknown."))
    link = ServiceLink.objects.select_for_update().get(pk=row.link_id)
    if link.service_id != service.id:
        raise _invalid("token", "token_unknown", _("This link token is unknown."))
    if row.used_at is not None:
        raise _invalid("token", "token_used", _("This link token has been used already."))
    if row.expires_at <= now:
        raise _invalid("token", "token_expired", _("This link token has expired."))
    if link.status != ServiceLink.Status.PENDING:
        raise _invalid(
            "token", "token_replaced",
            _("The resident has started linking again: this link token is no longer valid."),
        )  # fmt: skip
    code = secrets.token_urlsafe(32)
    row.used_at = now
    row.code_sha256 = sha256_hex(code)
    row.code_expires_at = now + timedelta(seconds=settings.OMADATA_LINK_RETURN_SECONDS)
    row.save(update_fields=["used_at", "code_sha256", "code_expires_at"])
    link.service_reference = reference
    link.confirmed_at = now
    link.save(update_fields=["service_reference", "confirmed_at"])
    return LinkConfirmed(link=link, code=code)


class LinkNotMade(Exception):
    """A browser came back with a code that cannot finish a link; `reason` says why.

    `attempt` names the attempt the code belonged to, if any: the session that
    started it forgets it.
    """

    def __init__(self, reason: str, attempt: str | None) -> None:
        super().__init__(reason)
        self.reason, self.attempt = reason, attempt


def link_return(*, resident: "User | None", code: str, started: Collection[str]) -> LinkToken:
    """A browser comes back from the service with `code`: make the link, or say why not.

    `resident` is who is signed in there (None: nobody); `started` holds the
    attempts that browser's session began. Only the resident who started the
    attempt, in that session, with the right code, once, in time, makes the link
    and its `link.created` receipt. Any other return spends the code and abandons
    the pending link, so that a code seen elsewhere can never finish it later.
    """
    with transaction.atomic():
        attempt, reason = _link_return(resident=resident, code=code, started=started)
    if attempt is None:
        raise LinkNotMade("code_unknown", None)
    if reason:
        raise LinkNotMade(reason, attempt.jti)
    return attempt


def _link_return(
    *, resident: "User | None", code: str, started: Collection[str]
) -> tuple[LinkToken | None, str]:
    if not code:
        return None, "code_unknown"
    found = (
        LinkToken.objects.filter(code_sha256=sha256_hex(code))
        .select_related("link__resident")
        .first()
    )
    if found is None:
        return None, "code_unknown"
    _lock_resident(found.link.resident)
    attempt = LinkToken.objects.select_for_update().get(pk=found.pk)
    link = (
        ServiceLink.objects.select_for_update(of=("self",))
        .select_related("service")
        .get(pk=attempt.link_id)
    )
    if attempt.returned_at is not None:
        return attempt, "code_used"
    now = timezone.now()
    reason = _return_refusal(attempt, link, resident=resident, started=started, now=now)
    attempt.returned_at, attempt.outcome = now, reason or "linked"
    attempt.save(update_fields=["returned_at", "outcome"])
    if reason:
        if link.status == ServiceLink.Status.PENDING:
            link.status = ServiceLink.Status.ABANDONED
            link.save(update_fields=["status"])
        return attempt, reason
    link.status = ServiceLink.Status.ACTIVE
    link.save(update_fields=["status"])
    link_receipt_issue(link=link, event=Receipt.Event.LINK_CREATED)
    return attempt, ""


def _return_refusal(
    attempt: LinkToken,
    link: ServiceLink,
    *,
    resident: "User | None",
    started: Collection[str],
    now: datetime,
) -> str:
    if resident is not None and resident.pk != link.resident_id:
        return "other_resident"
    if resident is None or attempt.jti not in started:
        return "other_session"
    if attempt.code_expires_at is None or attempt.code_expires_at <= now:
        return "code_expired"
    if link.status != ServiceLink.Status.PENDING:
        return "link_gone"
    if link.service.status != Service.Status.APPROVED:
        return "service_unavailable"
    return ""


def _links_of(resident: "User", *services: Service) -> set[tuple[Any, str]]:
    """Which of `services` the resident has an active or a pending link with, in one query."""
    rows = ServiceLink.objects.filter(
        resident=resident, service__in=services,
        status__in=[ServiceLink.Status.ACTIVE, ServiceLink.Status.PENDING],
    ).values_list("service_id", "status")  # fmt: skip
    return set(rows)


def _link_sink(*, resident: "User", request: ConsentRequest, links: set[tuple[Any, str]]) -> None:
    """The sink asked for this resident, so granting links the resident there too."""
    if (request.sink.pk, ServiceLink.Status.ACTIVE) in links:
        return
    # A service that is also a source may hold a link the resident began there and
    # never finished. Its subject may be tied to whoever finished that link page, so
    # it is abandoned, and the sink's own request makes a link with a new subject.
    if (request.sink.pk, ServiceLink.Status.PENDING) in links:
        ServiceLink.objects.filter(
            resident=resident, service=request.sink, status=ServiceLink.Status.PENDING
        ).update(status=ServiceLink.Status.ABANDONED)
    link = ServiceLink.objects.create(
        resident=resident, service=request.sink, subject=secrets.token_urlsafe(24),
        service_reference=request.subject_reference, status=ServiceLink.Status.ACTIVE,
        confirmed_at=timezone.now(),
    )  # fmt: skip
    link_receipt_issue(link=link, event=Receipt.Event.LINK_CREATED)


@transaction.atomic
def link_remove(*, link: ServiceLink) -> ServiceLink:
    """Remove a link; the live consents that need it are withdrawn with it."""
    _lock_resident(link.resident)
    link = ServiceLink.objects.select_for_update().get(pk=link.pk)
    if link.status == ServiceLink.Status.REMOVED:
        return link
    # Every live consent that needs the link: as its sink, or as any one of its
    # sources (a consent over several sources stops whole, never in part).
    needs = ConsentSource.objects.filter(consent=OuterRef("pk"), service=link.service)
    live = Consent.objects.filter(
        Q(sink=link.service) | Exists(needs), resident=link.resident,
        status__in=[Consent.Status.ACTIVE, Consent.Status.PAUSED],
    ).select_for_update(of=("self",))  # fmt: skip
    for consent in live:
        _change(consent, Consent.Status.WITHDRAWN, Receipt.Event.WITHDRAWN, reason="link_removed")
    link.status = ServiceLink.Status.REMOVED
    link.removed_at = timezone.now()
    link.save(update_fields=["status", "removed_at"])
    link_receipt_issue(link=link, event=Receipt.Event.LINK_REMOVED)
    return link


# -- answering a request ----------------------------------------------------------------


@transaction.atomic
def consent_grant(
    *,
    request: ConsentRequest,
    resident: "User",
    language: str,
    notice_text: str,
    algorithms: list[dict[str, Any]] | None = None,
) -> Consent:
    """The resident approves `request` as shown in `notice_text`, in `language`.

    `algorithms` are the sink's as the notice showed them (by default, as they
    are now); the consent keeps them and its receipts state their hash.

    Every source must be linked. A live consent of the resident's with the same
    sink and purpose that shares a source is superseded: the new terms replace
    the old, whether they add a source, drop one, or change what is asked.
    """
    _lock_resident(resident)
    request = _open_request(request, resident)
    sources = request_sources(request)
    links = _links_of(resident, *sources, request.sink)
    if any((source.pk, ServiceLink.Status.ACTIVE) not in links for source in sources):
        raise _state_error("link_required", _("Link your account at each source first."))
    _link_sink(resident=resident, request=request, links=links)
    now = timezone.now()
    shown = algorithms_shown(request.sink) if algorithms is None else algorithms
    consent = Consent.objects.create(
        resident=resident, request=request, sink=request.sink,
        purpose_fi=request.purpose_fi, purpose_sv=request.purpose_sv,
        purpose_en=request.purpose_en, purpose_category=request.purpose_category,
        valid_until=request.valid_until, frequency=request.frequency,
        frequency_limit=request.frequency_limit, frequency_period=request.frequency_period,
        language=language, notice_sha256=sha256_hex(notice_text), status_changed_at=now,
        principal=request.principal, algorithms=shown, algorithms_sha256=algorithms_sha256(shown),
    )  # fmt: skip
    consent.data_types.add(*request.data_types.all())
    parts = ConsentSource.objects.bulk_create(
        ConsentSource(consent=consent, service=part.service, position=part.position,
                      data_types=part.data_types)
        for part in request.source_parts()
    )  # fmt: skip
    consent.source_parts_known(parts)
    shared = ConsentSource.objects.filter(consent=OuterRef("pk"), service__in=sources)
    previous = Consent.objects.select_for_update(of=("self",)).filter(
        Exists(shared), resident=resident, sink=request.sink,
        purpose_category=request.purpose_category,
        status__in=[Consent.Status.ACTIVE, Consent.Status.PAUSED],
    ).exclude(pk=consent.pk)  # fmt: skip
    for old in previous:
        old.superseded_by = consent
        _change(old, Consent.Status.WITHDRAWN, Receipt.Event.WITHDRAWN, reason="superseded")
    request.status = ConsentRequest.Status.APPROVED
    request.resident = resident
    request.answered_at = now
    request.save(update_fields=["status", "resident", "answered_at"])
    receipt = consent_receipt_issue(consent=consent, event=Receipt.Event.GRANTED)
    _notify_change(consent=consent, receipt=receipt)
    return consent


@transaction.atomic
def consent_refuse(
    *,
    request: ConsentRequest,
    resident: "User",
    language: str,
    notice_text: str,
    algorithms: list[dict[str, Any]] | None = None,
) -> Receipt:
    request = _open_request(request, resident)
    shown = algorithms_shown(request.sink) if algorithms is None else algorithms
    request.status = ConsentRequest.Status.REFUSED
    request.resident = resident
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "resident", "answered_at"])
    receipt = refusal_receipt_issue(
        request=request, language=language, notice_sha256=sha256_hex(notice_text),
        algorithms_sha256=algorithms_sha256(shown),
    )  # fmt: skip
    _notify_refusal(request=request, receipt=receipt)
    return receipt


def _notify_change(*, consent: Consent, receipt: Receipt) -> None:
    """Tell the consent's source and sink about its new status, with the receipt."""
    sources = request_sources(consent)
    data = {
        "consent_id": str(consent.id),
        "status": consent.status,
        "sources": [str(source.pk) for source in sources],
        # The one-source form, before consents could join several: null when they do.
        "source": str(sources[0].pk) if len(sources) == 1 else None,
        "sink": str(consent.sink_id),
        "receipt": receipt.jws,
    }
    for service in (*sources, consent.sink):
        notify(service=service, event=receipt.event, data=data)


def _notify_refusal(*, request: ConsentRequest, receipt: Receipt) -> None:
    data = {"request_id": str(request.id), "status": "refused", "receipt": receipt.jws}
    notify(service=request.sink, event=receipt.event, data=data)


# -- later changes ----------------------------------------------------------------------


def _change(consent: Consent, status: str, event: str, reason: str = "") -> Receipt:
    consent.status = status
    consent.status_changed_at = timezone.now()
    consent.save(update_fields=["status", "status_changed_at", "superseded_by"])
    receipt = consent_receipt_issue(consent=consent, event=event, reason=reason)
    _notify_change(consent=consent, receipt=receipt)
    return receipt


_MOVES = {
    # action: (statuses it applies to, new status, receipt event)
    "pause": ((Consent.Status.ACTIVE,), Consent.Status.PAUSED, Receipt.Event.PAUSED),
    "resume": ((Consent.Status.PAUSED,), Consent.Status.ACTIVE, Receipt.Event.RESUMED),
    "withdraw": (
        (Consent.Status.ACTIVE, Consent.Status.PAUSED),
        Consent.Status.WITHDRAWN,
        Receipt.Event.WITHDRAWN,
    ),
}


def _move(consent: Consent, action: str) -> Consent:
    allowed, status, event = _MOVES[action]
    with transaction.atomic():
        consent = Consent.objects.select_for_update().get(pk=consent.pk)
        if consent.status not in allowed:
            raise _state_error(
                "invalid_transition",
                _("A consent that is %(status)s cannot be changed so.")
                % {"status": consent.get_status_display()},
            )
        if action == "resume" and consent.valid_until <= timezone.now():
            raise _state_error("consent_expired", _("This consent has expired."))
        _change(consent, status, event, reason="resident" if action == "withdraw" else "")
    return consent


def consent_pause(*, consent: Consent) -> Consent:
    return _move(consent, "pause")


def consent_resume(*, consent: Consent) -> Consent:
    return _move(consent, "resume")


def consent_withdraw(*, consent: Consent) -> Consent:
    return _move(consent, "withdraw")


def consent_expire_due(*, now: datetime | None = None) -> int:
    """Expire every live consent whose validity has ended; return how many."""
    now = now or timezone.now()
    due = Consent.objects.filter(
        status__in=[Consent.Status.ACTIVE, Consent.Status.PAUSED], valid_until__lte=now
    ).values_list("pk", flat=True)
    expired = 0
    for pk in list(due):
        with transaction.atomic():
            consent = Consent.objects.select_for_update().get(pk=pk)
            if consent.is_live and consent.valid_until <= now:
                _change(consent, Consent.Status.EXPIRED, Receipt.Event.EXPIRED)
                expired += 1
    return expired


# -- closing the account ----------------------------------------------------------------


def account_closable(*, user: "User") -> bool:
    """Whether `user` may close their own account here: residents only.

    Staff, auditors and providers' users hold a role for the operator or for an
    organisation, and act in its audit trail; their accounts are ended by staff,
    who take the role away and deactivate them, each change recorded there.
    """
    return not (user.is_staff or user.is_superuser or is_auditor(user) or provider_of_user(user))


@dataclass(frozen=True)
class AccountClosed:
    consents_withdrawn: int
    links_removed: int


@transaction.atomic
def account_close(*, resident: "User") -> AccountClosed:
    """Withdraw everything the resident agreed to, remove their links, and erase the account.

    In one transaction: every live consent is withdrawn with its receipt (reason
    `account_closed`) and its notifications to the sources and the sink, as a
    withdrawal always is; then every link is removed with its receipt, and links
    still pending are abandoned. The user name becomes a random pseudonym, the
    address and names are blanked, the password made unusable and the account
    inactive: no session of it authenticates again, and nobody can log in as it.
    Receipts stay in the log: they name the resident only by pseudonyms, and the
    log is append-only. Open requests the resident had begun to answer are left
    as they are: no one else may answer them, and they expire; a refusal receipt
    would state that the resident refused a notice they never answered.
    """
    _lock_resident(resident)
    resident = get_user_model().objects.get(pk=resident.pk)
    if not resident.is_active:
        raise _state_error("account_closed", _("This account is closed already."))
    if not account_closable(user=resident):
        raise _state_error(
            "account_not_closable", _("Only a resident's account can be closed here.")
        )
    live = (
        Consent.objects.select_for_update(of=("self",))
        .filter(resident=resident, status__in=[Consent.Status.ACTIVE, Consent.Status.PAUSED])
        .select_related("sink__organisation")
        .prefetch_related("data_types", sources_with_services(ConsentSource))
    )
    withdrawn = 0
    for consent in live:
        _change(consent, Consent.Status.WITHDRAWN, Receipt.Event.WITHDRAWN, reason="account_closed")
        withdrawn += 1
    removed = _links_remove_all(resident)
    _account_erase(resident)
    account_close_record(user=resident, consents_withdrawn=withdrawn, links_removed=removed)
    return AccountClosed(consents_withdrawn=withdrawn, links_removed=removed)


def _links_remove_all(resident: "User") -> int:
    """Remove the resident's links, each with its receipt; abandon those still pending."""
    ServiceLink.objects.filter(resident=resident, status=ServiceLink.Status.PENDING).update(
        status=ServiceLink.Status.ABANDONED
    )
    links = (
        ServiceLink.objects.select_for_update(of=("self",))
        .filter(resident=resident, status=ServiceLink.Status.ACTIVE)
        .select_related("service__organisation")
    )
    now = timezone.now()
    removed = 0
    for link in links:
        link.status, link.removed_at = ServiceLink.Status.REMOVED, now
        link.save(update_fields=["status", "removed_at"])
        link_receipt_issue(link=link, event=Receipt.Event.LINK_REMOVED)
        removed += 1
    return removed


def _account_erase(resident: "User") -> None:
    # The row stays: consents, links and audit events refer to it (PROTECT), as
    # evidence. What identifies the person goes, and so do django-axes' counts of
    # failed logins under their name (its working counts, not the audit trail).
    AccessAttempt.objects.filter(username=resident.get_username()).delete()
    resident.username = f"closed-{secrets.token_hex(12)}"
    resident.email = resident.first_name = resident.last_name = ""
    resident.set_unusable_password()
    resident.is_active = False
    resident.save(
        update_fields=["username", "email", "first_name", "last_name", "password", "is_active"]
    )
    # A sink's name for the resident's account there, shown on the consent screen: often
    # an e-mail address. The sink's own opaque reference stays, as the link's does.
    ConsentRequest.objects.filter(resident=resident).exclude(subject_label="").update(
        subject_label=""
    )
    LanguagePreference.objects.filter(resident=resident).delete()
    for eraser in pages.account_erasers():
        eraser(resident=resident)


# -- the resident's language ------------------------------------------------------------


def language_preference_set(*, resident: "User", language: str) -> None:
    """Keep `language` (one of settings.LANGUAGES) as the resident's choice."""
    if language not in dict(settings.LANGUAGES):
        raise _invalid("language", "unknown_language", _("Omadata has no such language."))
    LanguagePreference.objects.update_or_create(resident=resident, defaults={"language": language})
