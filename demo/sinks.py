"""What every demo sink does: ask for a consent, take the answer back, keep what arrives.

The Espoo wellbeing service and Espoo's newcomer service differ in what they ask
for and how their pages show it (a `Sink` and a home page of their own); the
browser binding, the return from Omadata and the deliveries work the same.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from demo import pages, webhooks
from demo.operator_api import TRANSFER_TYP, ApiError, TokenInvalid
from demo.store import StateRefused, account_of
from demo.web import (
    Request,
    Response,
    browser_secret,
    browser_secret_given,
    error,
    form_from_here,
    json_response,
    redirect,
    unauthorized,
)

if TYPE_CHECKING:
    import sqlite3

    from demo.server import Demo

# The operator may refuse a transfer now, e.g. when its scheduler has just started
# one for this recurring consent (409 frequency_limit): the data still arrives.
UNAVAILABLE = "no transfer requested now; a scheduled one may be on its way"
_DIGEST = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):")
# More parts than the operator ever relays in one run (OMADATA_MAX_CONSENT_SOURCES is 5).
MAX_PARTS = 20
NOT_ATTACHED = ("unknown", "used", "other_browser", "other_request")


@dataclass(frozen=True)
class Sink:
    slug: str  # as demo_seed registers it
    path: str  # where its pages are, e.g. "/wellbeing/"
    cookie: str  # holds each browser's secret: its account here, its forms' key
    label: str  # how an account is named to its holder, with {account}
    # The terms of its consent request: sources, purpose, validity, frequency.
    terms: Callable[["Demo"], dict[str, Any]]


def routes(sink: Sink) -> dict[tuple[str, str], Callable[..., Response]]:
    """The sink's endpoints under its path, but its home page, which is its own."""
    at = sink.path
    return {
        ("POST", f"{at}join"): partial(join, sink=sink),
        ("GET", f"{at}back"): partial(back, sink=sink),
        ("GET", f"{at}not-attached"): partial(not_attached, sink=sink),
        ("POST", f"{at}deliver"): partial(deliver, sink=sink),
        ("POST", f"{at}webhook"): partial(webhooks.receive, slug=sink.slug),
    }


def browser(demo: "Demo", request: Request, sink: Sink) -> tuple[str, dict[str, str]]:
    """This browser's secret at `sink`, and the header that gives it one if it has none."""
    secure = demo.config.demo_url.startswith("https://")
    return browser_secret_given(request, cookie=sink.cookie, path=sink.path, secure=secure)


def title(sink: Sink, lang: str) -> str:
    return pages.t(f"{sink.slug}.title", lang)


def outcome(demo: "Demo", query: dict, account: str) -> str:
    """What came of the resident's answer, when they have just come back with one."""
    if query.get("answer") == "refused":
        text = "You refused: nothing will be shared. You can join later."
    elif query.get("answer") == "approved":
        mine = {c["id"]: c for c in demo.store.account_consents(account)}
        known = mine.get(query.get("consent", ""))
        if known is None:
            return ""
        text = (f"You approved: consent {known['id']} is {known['status']}. "
                f"Transfer: {known['transfer'] or 'not requested'}.")  # fmt: skip
    else:
        return ""
    return f"<p role=status>{escape(text)}</p>"


def consents_table(demo: "Demo", account: str, lang: str) -> str:
    return pages.table(caption=pages.t("consents", lang),
                       head=["consent", "status", "updated", "transfer"],
                       rows=[[c["id"], c["status"], c["updated_at"], c["transfer"]]
                             for c in demo.store.account_consents(account)],
                       empty="No consent yet.")  # fmt: skip


def join(demo: "Demo", request: Request, lang: str, *, sink: Sink) -> Response:
    """Ask Omadata for the consent of this browser's account, and send the browser to it.

    Only a post from our own page in this browser counts: the request is bound
    to this browser, and a page elsewhere must not start one in its name. The
    request names the account (`subject_reference`) and shows its name to the
    resident (`subject_label`); its state is kept with a hash of this browser's
    secret, so that the answer counts only when it comes back here (back()).
    """
    if not form_from_here(request, key=demo.form_key, cookie=sink.cookie):
        text = "This form did not come from the service's page in this browser: nothing started."
        return message(403, lang, request, text, sink=sink)
    secret = browser_secret(request, cookie=sink.cookie)
    account = account_of(secret)
    state = secrets.token_urlsafe(24)
    common = {
        "sink": demo.api.service_id(sink.slug),
        "return_url": f"{demo.config.demo_url}{sink.path}back",
        "state": state, "subject_reference": account,
        "subject_label": sink.label.format(account=account),
    }  # fmt: skip
    try:
        asked = demo.api.call(
            "POST", "/api/v1/consent-requests", slug=sink.slug, scope="consents:request",
            data={**common, **sink.terms(demo)},
        )  # fmt: skip
    except ApiError as problem:
        return message(
            502, lang, request, f"Omadata did not take the request: {problem}", sink=sink
        )
    demo.store.state_save(state, browser=secret, account=account, request_id=str(asked["id"]))
    return redirect(asked["url"])


def back(demo: "Demo", request: Request, lang: str, *, sink: Sink) -> Response:
    """The resident returns from Omadata with an answer to a request we made.

    The answer counts only in the browser that started the request: anyone can
    send the address of a request on to someone else, whose answer would then come
    back in their browser, with our state. So the state must be one this browser's
    secret is bound to (it is spent by its first return, whichever browser brings
    it), and the operator's record of the consent must answer that very request
    for that account. Only then is the consent attached to the account and a
    transfer asked for. The browser then moves on to the landing page, which shows
    the outcome and may be reloaded.
    """
    try:
        started = demo.store.state_use(
            request.query.get("state", ""), browser=browser_secret(request, cookie=sink.cookie)
        )
    except StateRefused as refused:
        return _not_attached(sink, refused.reason, lang)
    if request.query.get("error") == "access_denied":
        return redirect(f"{sink.path}?" + urlencode({"answer": "refused", "lang": lang}))
    consent_id = _uuid(request.query.get("consent_id", ""))
    if consent_id is None:
        return message(400, lang, request, "The answer from Omadata names no consent.", sink=sink)
    try:
        # Trust the operator's record, not the query string.
        consent = demo.api.call("GET", f"/api/v1/consents/{consent_id}", slug=sink.slug,
                                scope="consents:read")  # fmt: skip
    except ApiError as problem:
        text = f"Omadata could not confirm the consent: {problem}"
        return message(502, lang, request, text, sink=sink)
    asked_for = (consent.get("request"), consent.get("subject_reference"))
    if asked_for != (started.request_id, started.account):
        return _not_attached(sink, "other_request", lang)
    demo.store.consent_attach(
        consent_id=consent_id, account=started.account, status=consent["status"],
        sources=consent_sources(demo, consent),
    )  # fmt: skip
    transfer = transfer_request(demo, sink, consent_id)
    if transfer is None:
        demo.store.consent_attach(consent_id=consent_id, account=started.account,
                                  status=consent["status"], note=UNAVAILABLE)  # fmt: skip
    else:
        status = str(transfer.get("status", "requested"))
        demo.store.transfer_save(
            transfer_id=str(transfer["id"]), consent_id=consent_id, status=status, news=False
        )
    query = {"answer": "approved", "consent": consent_id, "lang": lang}
    return redirect(f"{sink.path}?" + urlencode(query))


def consent_sources(demo: "Demo", consent: dict) -> list[dict[str, str]]:
    """The consent's sources as the registry names them: {id, slug, organisation} each.

    An operator's record lists them under `sources`; one from before consents over
    several sources names its only source under `source`.
    """
    listed = consent.get("sources")
    if isinstance(listed, list):
        ids = [str(part.get("source")) for part in listed if isinstance(part, dict)]
    else:
        ids = [str(consent["source"])] if consent.get("source") else []
    named = []
    for service_id in ids:
        entry = demo.api.service_entry(service_id) or {}
        organisation = entry.get("organisation") or {}
        named.append({"id": service_id, "slug": str(entry.get("slug", "")),
                      "organisation": str(organisation.get("name", ""))})  # fmt: skip
    return named


def _not_attached(sink: Sink, reason: str, lang: str) -> Response:
    # A page of its own, so that its language links show the same reason again.
    query = urlencode({"reason": reason, "lang": lang})
    return redirect(f"{sink.path}not-attached?{query}")


def not_attached(demo: "Demo", request: Request, lang: str, *, sink: Sink) -> Response:
    """Why an answer was attached to no account here, and what the resident can do."""
    reason = request.query.get("reason", "")
    if reason not in NOT_ATTACHED:
        reason = "unknown"
    withdraw = f"{demo.config.operator_url}/my/consents"
    body = (
        f"<p role=alert>{escape(pages.t(f'not_attached.{reason}', lang))}</p>"
        f"<p>{escape(pages.t('not_attached.withdraw', lang))}</p>"
        f'<p><a href="{escape(withdraw)}">{escape(pages.t("my_consents", lang))}</a></p>'
        f'<p><a href="{escape(sink.path)}">{escape(pages.t(f"{sink.slug}.back", lang))}</a></p>'
    )
    heading = pages.t("not_attached", lang)
    status = 403 if reason == "other_browser" else 400
    return Response(status, pages.page(title=heading, lang=lang, body=body, query=request.query))


def _uuid(value: str) -> str | None:
    # The id goes into an API path: only a UUID may, never "../" or a query.
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def transfer_request(demo: "Demo", sink: Sink, consent_id: str) -> dict | None:
    """Ask the operator to relay data under the consent: the transfer, or None.

    When the operator refuses (the consent's limit is used, a service is down),
    the page says so in a note rather than failing.
    """
    try:
        transfer = demo.api.call("POST", "/api/v1/transfers", slug=sink.slug,
                                 scope="transfers:write", data={"consent": consent_id})  # fmt: skip
    except ApiError:
        return None
    return transfer if isinstance(transfer, dict) and "id" in transfer else None


def message(status: int, lang: str, request: Request, text: str, *, sink: Sink) -> Response:
    back_link = escape(pages.t(f"{sink.slug}.back", lang))
    body = f'<p role=alert>{escape(text)}</p><p><a href="{escape(sink.path)}">{back_link}</a></p>'
    return Response(
        status, pages.page(title=title(sink, lang), lang=lang, body=body, query=request.query)
    )


def deliver(demo: "Demo", request: Request, lang: str, *, sink: Sink) -> Response:
    """The operator delivers data: verified, digest-checked, kept once per Idempotency-Key.

    A transfer over several sources comes in parts, each with the claims `part`
    and `parts`, its `source`, and the key `<transfer id>.<part>`; a transfer
    from one source may come whole, keyed by its id alone.
    """
    try:
        claims = demo.api.verify(
            request.bearer() or "", typ=TRANSFER_TYP, audience=demo.api.service_id(sink.slug)
        )
    except TokenInvalid as problem:
        return unauthorized(problem)
    numbered = _part(claims)
    if numbered is None:
        return error(400, "bad_part", "`part` and `parts` must be 1 ≤ part ≤ parts numbers.")
    transfer_id = str(claims.get("transfer_id"))
    part, parts = numbered
    expected = transfer_id if part is None else f"{transfer_id}.{part}"
    key = request.headers.get("idempotency-key", "")
    if key != expected:
        text = "Idempotency-Key must be the token's transfer_id, then .part if it has one."
        return error(400, "bad_idempotency_key", text)
    digest = _content_digest(request.headers.get("content-digest", ""))
    if digest is None or not hmac.compare_digest(digest, _sha256(request.body)):
        return error(400, "digest_mismatch", "Content-Digest is not the body's SHA-256.")
    stored = demo.store.delivery_save(
        key=key, consent_id=str(claims.get("consent_id")), subject=str(claims.get("sub")),
        content_type=request.headers.get("content-type", ""), digest=digest, body=request.body,
        transfer_id=transfer_id, part=part, parts=parts, source=_source(claims),
    )  # fmt: skip
    if not stored and demo.store.delivery_digest(key) != digest:
        return error(422, "idempotency_key_reused", "This key came with another body before.")
    return json_response({"status": "received" if stored else "already_received"})


def _part(claims: dict) -> tuple[int | None, int | None] | None:
    """(part, parts) as the token numbers them, (None, None) if it does not; None if bad."""
    part, parts = claims.get("part"), claims.get("parts")
    if part is None and parts is None:
        return None, None
    if type(part) is not int or type(parts) is not int:  # not bool, which is an int too
        return None
    return (part, parts) if 1 <= part <= parts <= MAX_PARTS else None


def _source(claims: dict) -> dict[str, str]:
    """The token's `source` ({id, slug, organisation}), each a bounded string; {} if none."""
    source = claims.get("source")
    if not isinstance(source, dict):
        return {}
    return {key: str(source.get(key, ""))[:200] for key in ("id", "slug", "organisation")}


def source_of(delivery: "sqlite3.Row") -> dict[str, str]:
    """Where a delivery came from: its token's `source`, else its consent's only source.

    An operator from before consents over several sources names no `source` in its
    token; the consent it was delivered under then has exactly one.
    """
    claimed = json.loads(delivery["source"] or "{}")
    if claimed:
        return claimed
    sources = json.loads(delivery["consent_sources"] or "[]")
    return sources[0] if len(sources) == 1 else {}


def _content_digest(header: str) -> str | None:
    found = _DIGEST.search(header)
    return found[1] if found else None


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()
