"""The resident's pages: the consent screen, account linking, and their consents."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from common.errors import Conflict
from common.http import AuthenticatedHttpRequest
from consent import pages, selectors, services
from consent.models import ConsentRequest
from consent.receipts import receipt_shown, sha256_hex
from ledger.access import is_auditor
from registry.models import reader_language
from registry.selectors import algorithms_shown

NOTICE_TEMPLATE = "consent/notice.html"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class _Notice:
    text: str  # exactly as the resident sees it; its SHA-256 goes into the receipt
    algorithms: list[dict[str, Any]]  # the sink's, as shown: the receipt binds their hash


def _notice(consent_request: ConsentRequest) -> _Notice:
    """The notice in the reader's language, with the sink's algorithms next to the data
    each uses; both read once, so that what is hashed is what was shown."""
    algorithms = algorithms_shown(consent_request.sink)
    shown = _in_language(algorithms)
    groups = [
        (source, [(t, [a["name"] for a in shown if t.key in a["data_types"]]) for t in types])
        for source, types in consent_request.source_groups()
    ]
    text = render_to_string(
        NOTICE_TEMPLATE, {"req": consent_request, "groups": groups, "algorithms": shown}
    )
    return _Notice(text=text, algorithms=algorithms)


_ALGORITHM_TEXTS = ("name", "purpose", "logic", "human_oversight", "non_discrimination")


def _in_language(algorithms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Algorithms as registry.selectors.algorithms_shown gives them, in the reader's language."""
    language = reader_language()
    return [
        {
            **{field: algorithm[field][language] for field in _ALGORITHM_TEXTS},
            "data_types": algorithm["data_types"],
            "register_url": algorithm["register_url"],
        }
        for algorithm in algorithms
    ]


def _back_to_sink(consent_request: ConsentRequest, **params: str) -> HttpResponse:
    query = {**params, "state": consent_request.state} if consent_request.state else params
    separator = "&" if "?" in consent_request.return_url else "?"
    return redirect(f"{consent_request.return_url}{separator}{urlencode(query)}")


def _allow_forms_to(response: HttpResponse, *urls: str) -> HttpResponse:
    # The answer and the linking step end in a redirect to the sink or the source;
    # browsers hold those redirects to the page's form-action policy.
    # django-csp reads this attribute of a response; the stubs know no such attribute.
    response._csp_update = {  # type: ignore[attr-defined]
        "form-action": sorted({_origin(u) for u in urls if u})
    }
    return response


@require_safe
@login_required
def consent_screen(request: AuthenticatedHttpRequest, request_id: UUID) -> HttpResponse:
    # Showing claims nothing: the request is bound to a resident when they act on it.
    consent_request = selectors.request_access_for_resident(
        resident=request.user, request_id=request_id
    )
    sources = services.request_sources(consent_request)
    linked = services.links_active(resident=request.user, services=sources)
    steps = [{"service": source, "linked": source.pk in linked} for source in sources]
    notice = _notice(consent_request)
    response = render(
        request,
        "consent/screen.html",
        {
            "req": consent_request,
            "notice": notice.text,
            "notice_sha256": sha256_hex(notice.text),
            "steps": steps,
            # One source at a time, in the sink's order: the first not yet linked.
            "next_link": next((step for step in steps if not step["linked"]), None),
            "answerable": consent_request.status == ConsentRequest.Status.OPEN
            and not services.request_expired(consent_request),
        },
    )
    return _allow_forms_to(
        response, consent_request.return_url, *(source.link_url for source in sources)
    )


_AUDITOR_DECIDES_NOTHING = gettext_lazy(
    "An auditor's account cannot give consent or link services: sign in with your own "
    "account to do that."
)


def _not_an_auditor(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse an auditor the resident's new decisions: an auditor's account reads the
    evidence and changes nothing in it (withdrawing, which only stops data, stays open)."""

    @wraps(view)
    def checked(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_auditor(request.user):
            raise PermissionDenied(
                _(
                    "An auditor's account cannot give consent or link services: sign in with "
                    "your own account to do that."
                )
            )
        return view(request, *args, **kwargs)

    return checked


@require_POST
@login_required
@_not_an_auditor
def consent_link_start(request: AuthenticatedHttpRequest, request_id: UUID) -> HttpResponse:
    consent_request = selectors.request_access_for_resident(
        resident=request.user, request_id=request_id
    )
    services.consent_request_claim(request=consent_request, resident=request.user)
    return_to = settings.BASE_URL + reverse("consent-screen", args=[consent_request.id])
    # Only a source of this request: the form names which; any other value, the first not
    # yet linked (the step the screen shows), or the first when all are.
    sources = services.request_sources(consent_request)
    source = {str(each.pk): each for each in sources}.get(request.POST.get("source", ""))
    if source is None:
        linked = services.links_active(resident=request.user, services=sources)
        source = next((each for each in sources if each.pk not in linked), sources[0])
    try:
        started = services.link_start(resident=request.user, service=source, return_to=return_to)
    except Conflict as problem:
        messages.error(request, problem.message)
        return redirect("consent-screen", consent_request.id)
    _remember_link(request, started)
    return redirect(started.url)


# The attempts to link that this browser's session began, each with the time
# after which it can no longer finish. Kept in the session (on the server), so
# only this browser can bring an attempt back.
LINK_ATTEMPTS = "link_attempts"


def _link_attempts(request: HttpRequest) -> dict[str, float]:
    now = timezone.now().timestamp()
    return {a: until for a, until in request.session.get(LINK_ATTEMPTS, {}).items() if until > now}


def _remember_link(request: HttpRequest, started: services.LinkStarted) -> None:
    request.session[LINK_ATTEMPTS] = {
        **_link_attempts(request),
        started.attempt: started.until.timestamp(),
    }


def _forget_link(request: HttpRequest, attempt: str | None) -> None:
    if LINK_ATTEMPTS in request.session:
        request.session[LINK_ATTEMPTS] = {
            a: until for a, until in _link_attempts(request).items() if a != attempt
        }


_NOT_MADE = {
    "code_unknown": gettext_lazy(
        "The address you came back with is incomplete, or Omadata did not give it."
    ),
    "code_used": gettext_lazy(
        "The address you came back with has been used already: it works only once."
    ),
    "other_resident": gettext_lazy(
        "Linking was started by someone else, signed in to Omadata as another user. If someone "
        "sent you the address of a link page, they may have tried to link your account to theirs."
    ),
    "other_session": gettext_lazy(
        "Linking was started in another browser, or you have logged out of Omadata since. If "
        "you did not start linking in this browser yourself, someone may have sent you the "
        "address of a link page to link your account to theirs."
    ),
    "code_expired": gettext_lazy(
        "Too much time passed between the service confirming the link and your return here."
    ),
    "link_gone": gettext_lazy(
        "Linking was started again, or ended another way, while you were at the service."
    ),
    "service_unavailable": gettext_lazy("The service is no longer in use at Omadata."),
}


@require_GET
@never_cache
def link_return(request: HttpRequest) -> HttpResponse:
    """The source sends the resident's browser back here with its single-use code.

    A GET that makes the link: the code, which only the browser the source sent
    back holds, and this session's record of the attempt stand in for a CSRF token.
    """
    resident = request.user if request.user.is_authenticated else None
    try:
        attempt = services.link_return(
            resident=resident, code=request.GET.get("code", ""),
            started=_link_attempts(request).keys(),
        )  # fmt: skip
    except services.LinkNotMade as refusal:
        _forget_link(request, refusal.attempt)
        context = {"reason": _NOT_MADE[refusal.reason]}
        return render(request, "consent/link_not_made.html", context, status=400)
    _forget_link(request, attempt.jti)
    service = attempt.link.service.localized("name")
    messages.success(request, _("Your account at %(service)s is linked.") % {"service": service})
    return redirect(attempt.return_to or reverse("my-consents"))


@require_POST
@login_required
@_not_an_auditor
def consent_answer(request: AuthenticatedHttpRequest, request_id: UUID) -> HttpResponse:
    consent_request = selectors.request_access_for_resident(
        resident=request.user, request_id=request_id
    )
    notice = _notice(consent_request)
    if request.POST.get("notice_sha256") != sha256_hex(notice.text):
        messages.error(request, _("The request changed while you read it. Please read it again."))
        return redirect("consent-screen", consent_request.id)
    language = translation.get_language()
    try:
        if request.POST.get("answer") == "approve":
            consent = services.consent_grant(
                request=consent_request, resident=request.user, language=language,
                notice_text=notice.text, algorithms=notice.algorithms,
            )  # fmt: skip
            return _back_to_sink(consent_request, consent_id=str(consent.id))
        if request.POST.get("answer") == "refuse":
            services.consent_refuse(
                request=consent_request, resident=request.user, language=language,
                notice_text=notice.text, algorithms=notice.algorithms,
            )  # fmt: skip
            return _back_to_sink(consent_request, error="access_denied")
    except Conflict as problem:
        messages.error(request, problem.message)
        return redirect("consent-screen", consent_request.id)
    messages.error(request, _("Choose Approve or Refuse."))
    return redirect("consent-screen", consent_request.id)


@require_safe
@login_required
def my_consents(request: AuthenticatedHttpRequest) -> HttpResponse:
    consents = selectors.consent_list_for_resident(resident=request.user)
    return render(
        request,
        "consent/my_consents.html",
        {
            "live": [c for c in consents if c.is_live],
            "ended": [c for c in consents if not c.is_live],
            **_links_by_kind(selectors.link_list(resident=request.user)),
            "can_close": services.account_closable(user=request.user),
            "sections": pages.my_consents_sections(request=request),
        },
    )


def _links_by_kind(links: Iterable[Any]) -> dict[str, list[Any]]:
    """Accounts the resident signed in to (sources), apart from services that a consent
    linked them to (sinks): the resident never signed in to the latter here."""
    links = list(links)
    return {
        "source_links": [link for link in links if link.signed_in],
        "sink_links": [link for link in links if not link.signed_in],
    }


@require_safe
@login_required
def my_consent(request: AuthenticatedHttpRequest, consent_id: UUID) -> HttpResponse:
    consent = selectors.consent_access_for_resident(resident=request.user, consent_id=consent_id)
    names = {source.slug: source.localized("name") for source in services.request_sources(consent)}
    return render(
        request,
        "consent/my_consent.html",
        {
            "consent": consent,
            # As the resident was shown them when they agreed, whatever the service says now.
            "algorithms": _in_language(consent.algorithms),
            "receipts": [
                receipt_shown(receipt, source_names=names)
                for receipt in selectors.receipts_of(consent)
            ],
            "sections": pages.consent_page_sections(request=request, consent=consent),
        },
    )


@require_safe
@login_required
def my_receipt_download(
    request: AuthenticatedHttpRequest, consent_id: UUID, receipt_id: UUID
) -> HttpResponse:
    """The receipt as it was signed: a compact JWS, to keep or to hand to anyone to check."""
    receipt = selectors.receipt_access_for_resident(
        resident=request.user, consent_id=consent_id, receipt_id=receipt_id
    )
    response = HttpResponse(receipt.jws, content_type="application/jose")
    response["Content-Disposition"] = f'attachment; filename="receipt-{receipt.pk}.jws"'
    return response


_ACTIONS = {
    "pause": (
        services.consent_pause,
        gettext_lazy("The consent is paused: no data moves until you resume it."),
    ),
    "resume": (services.consent_resume, gettext_lazy("The consent is in force again.")),
    "withdraw": (
        services.consent_withdraw,
        gettext_lazy("The consent is withdrawn: no more data moves under it."),
    ),
}


@require_POST
@login_required
def my_consent_change(
    request: AuthenticatedHttpRequest, consent_id: UUID, action: str
) -> HttpResponse:
    if action not in _ACTIONS:
        raise Http404
    if action == "resume" and is_auditor(request.user):
        # Pausing and withdrawing only stop data; resuming sets it moving again.
        raise PermissionDenied(_AUDITOR_DECIDES_NOTHING)
    consent = selectors.consent_access_for_resident(resident=request.user, consent_id=consent_id)
    change, done = _ACTIONS[action]
    try:
        change(consent=consent)
        messages.success(request, done)
    except Conflict as problem:
        messages.error(request, problem.message)
    return redirect("my-consent", consent.id)


@require_POST
@login_required
def my_link_remove(request: AuthenticatedHttpRequest, link_id: UUID) -> HttpResponse:
    link = selectors.link_access(resident=request.user, link_id=link_id)
    services.link_remove(link=link)
    messages.success(
        request, _("The link is removed, and the consents that needed it are withdrawn.")
    )
    return redirect("my-consents")


# The value of the box the resident ticks to close their account: nothing else closes it.
CLOSE_CONFIRMATION = "close"


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def account_close(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Close the resident's account, once they tick the box that says what that does.

    Without the box ticked nothing changes: the page again, with the reason, as 400.
    """
    if not services.account_closable(user=request.user):
        raise PermissionDenied(
            _(
                "Only a resident's own account can be closed here. The accounts of staff, "
                "auditors and service providers are closed by the operator's staff."
            )
        )
    missing = False
    if request.method == "POST":
        if request.POST.get("confirm") == CLOSE_CONFIRMATION:
            services.account_close(resident=request.user)
            logout(request)
            messages.success(
                request,
                _("Your account is closed: your consents are withdrawn and your links removed."),
            )
            return redirect("home")
        missing = True
    context = {
        "live": selectors.consent_live_count(resident=request.user),
        "links": selectors.link_list(resident=request.user).count(),
        "missing": missing,
        "confirmation": CLOSE_CONFIRMATION,
        "my_consents_url": reverse("my-consents"),
    }
    return render(request, "consent/account_close.html", context, status=400 if missing else 200)
