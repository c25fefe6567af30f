"""The Espoo wellbeing service: a demo sink that asks for steps and keeps what arrives."""

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from demo import pages, wearable, webhooks
from demo.operator_api import TRANSFER_TYP, ApiError, TokenInvalid
from demo.store import StateRefused, account_of
from demo.web import (
    FORM_TOKEN_FIELD,
    Request,
    Response,
    browser_secret,
    browser_secret_given,
    error,
    form_from_here,
    form_token,
    json_loads,
    json_response,
    redirect,
    unauthorized,
)

if TYPE_CHECKING:
    from demo.server import Demo

SLUG = "wellbeing"
DATA_TYPES = ["wellbeing.steps"]
PURPOSE = {
    "fi": "Päivittäiset askeleesi Espoon liikuntaohjelmaan, joka seuraa edistymistäsi.",
    "sv": "Dina dagliga steg till Esbos motionsprogram, som följer dina framsteg.",
    "en": "Your daily steps for Espoo's exercise programme, which follows your progress.",
}
VALID_DAYS = 90
# The operator may refuse a transfer now, e.g. when its scheduler has just started
# one for this recurring consent (409 frequency_limit): the data still arrives.
UNAVAILABLE = "no transfer requested now; a scheduled one may be on its way"
_DIGEST = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):")


# Each browser's secret: its account here, the key of its join form, and what binds
# the consent requests it starts to it. For the wellbeing pages only.
BROWSER_COOKIE = "wellbeing_browser"


def _browser(demo: "Demo", request: Request) -> tuple[str, dict[str, str]]:
    secure = demo.config.demo_url.startswith("https://")
    return browser_secret_given(request, cookie=BROWSER_COOKIE, path="/wellbeing/", secure=secure)


def label(account: str) -> str:
    """How the account is named to its holder, here and on Omadata's consent screen."""
    return f"participant {account}"


def home(demo: "Demo", request: Request, lang: str) -> Response:
    """The account's page: what it joined, and what arrived for it; nobody else's."""
    secret, headers = _browser(demo, request)
    account = account_of(secret)
    body = (
        f"<p>{escape(pages.t('wellbeing.account', lang).format(account=account))}</p>"
        + _outcome(demo, request.query, account)
        + pages.form(action="/wellbeing/join", button=pages.t("wellbeing.join", lang),
                     hidden={FORM_TOKEN_FIELD: form_token(demo.form_key, secret)})
        + _deliveries_table(demo, account, lang)
        + pages.table(caption=pages.t("consents", lang),
                      head=["consent", "status", "updated", "transfer"],
                      rows=[[c["id"], c["status"], c["updated_at"], c["transfer"]]
                            for c in demo.store.account_consents(account)],
                      empty="No consent yet.")
        + webhooks.events_table(demo, SLUG, lang, account=account)
    )  # fmt: skip
    title = pages.t("wellbeing.title", lang)
    page = pages.page(title=title, lang=lang, body=body, query=request.query)
    return Response(body=page, headers=headers)


def _outcome(demo: "Demo", query: dict, account: str) -> str:
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


def _deliveries_table(demo: "Demo", account: str, lang: str) -> str:
    rows = [
        [d["received_at"], d["idempotency_key"], d["byte_count"], summarise(d["body"])]
        for d in demo.store.account_deliveries(account)
    ]
    return pages.table(caption=pages.t("deliveries", lang),
                       head=["received", "transfer", "bytes", "summary"], rows=rows,
                       empty="Nothing has arrived yet.")  # fmt: skip


def summarise(body: bytes) -> str:
    """One line about a delivered body: days and total steps, or what else it holds."""
    try:
        content = json_loads(body)
        steps = content.get("wellbeing.steps", [])
        total = sum(int(day["steps"]) for day in steps)
    except (ValueError, TypeError, KeyError, AttributeError):
        return "not the JSON this service expects"
    others = sorted(set(content) - {"wellbeing.steps"})
    return f"{len(steps)} days, {total} steps" + (f"; also {', '.join(others)}" if others else "")


def join(demo: "Demo", request: Request, lang: str) -> Response:
    """Ask Omadata for the consent of this browser's account, and send the browser to it.

    Only a post from our own page in this browser counts: the request is bound
    to this browser, and a page elsewhere must not start one in its name. The
    request names the account (`subject_reference`) and shows its name to the
    resident (`subject_label`); its state is kept with a hash of this browser's
    secret, so that the answer counts only when it comes back here (back()).
    """
    if not form_from_here(request, key=demo.form_key, cookie=BROWSER_COOKIE):
        text = "This form did not come from the wellbeing page in this browser: nothing started."
        return _message(403, lang, request, text)
    secret = browser_secret(request, cookie=BROWSER_COOKIE)
    account = account_of(secret)
    state = secrets.token_urlsafe(24)
    try:
        asked = demo.api.call(
            "POST", "/api/v1/consent-requests", slug=SLUG, scope="consents:request",
            data={
                "sink": demo.api.service_id(SLUG),
                "source": demo.api.service_id(wearable.SLUG),
                "data_types": DATA_TYPES, "purpose": PURPOSE, "purpose_category": "wellbeing",
                "valid_until": (datetime.now(UTC) + timedelta(days=VALID_DAYS)).isoformat(),
                "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
                "return_url": f"{demo.config.demo_url}/wellbeing/back", "state": state,
                "subject_reference": account, "subject_label": label(account),
            },
        )  # fmt: skip
    except ApiError as problem:
        return _message(502, lang, request, f"Omadata did not take the request: {problem}")
    demo.store.state_save(state, browser=secret, account=account, request_id=str(asked["id"]))
    return redirect(asked["url"])


def back(demo: "Demo", request: Request, lang: str) -> Response:
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
            request.query.get("state", ""), browser=browser_secret(request, cookie=BROWSER_COOKIE)
        )
    except StateRefused as refused:
        return _not_attached(refused.reason, lang)
    if request.query.get("error") == "access_denied":
        return redirect("/wellbeing/?" + urlencode({"answer": "refused", "lang": lang}))
    consent_id = _uuid(request.query.get("consent_id", ""))
    if consent_id is None:
        return _message(400, lang, request, "The answer from Omadata names no consent.")
    try:
        # Trust the operator's record, not the query string.
        consent = demo.api.call("GET", f"/api/v1/consents/{consent_id}", slug=SLUG,
                                scope="consents:read")  # fmt: skip
    except ApiError as problem:
        return _message(502, lang, request, f"Omadata could not confirm the consent: {problem}")
    asked_for = (consent.get("request"), consent.get("subject_reference"))
    if asked_for != (started.request_id, started.account):
        return _not_attached("other_request", lang)
    demo.store.consent_attach(
        consent_id=consent_id, account=started.account, status=consent["status"]
    )
    transfer = transfer_request(demo, consent_id)
    if transfer is None:
        demo.store.consent_attach(consent_id=consent_id, account=started.account,
                                  status=consent["status"], note=UNAVAILABLE)  # fmt: skip
    else:
        status = str(transfer.get("status", "requested"))
        demo.store.transfer_save(
            transfer_id=str(transfer["id"]), consent_id=consent_id, status=status, news=False
        )
    query = {"answer": "approved", "consent": consent_id, "lang": lang}
    return redirect("/wellbeing/?" + urlencode(query))


NOT_ATTACHED = ("unknown", "used", "other_browser", "other_request")


def _not_attached(reason: str, lang: str) -> Response:
    # A page of its own, so that its language links show the same reason again.
    return redirect("/wellbeing/not-attached?" + urlencode({"reason": reason, "lang": lang}))


def not_attached(demo: "Demo", request: Request, lang: str) -> Response:
    """Why an answer was attached to no account here, and what the resident can do."""
    reason = request.query.get("reason", "")
    if reason not in NOT_ATTACHED:
        reason = "unknown"
    withdraw = f"{demo.config.operator_url}/my/consents"
    body = (
        f"<p role=alert>{escape(pages.t(f'wellbeing.not_attached.{reason}', lang))}</p>"
        f"<p>{escape(pages.t('wellbeing.not_attached.withdraw', lang))}</p>"
        f'<p><a href="{escape(withdraw)}">{escape(pages.t("my_consents", lang))}</a></p>'
        f'<p><a href="/wellbeing/">{escape(pages.t("wellbeing.back", lang))}</a></p>'
    )
    title = pages.t("wellbeing.not_attached", lang)
    status = 403 if reason == "other_browser" else 400
    return Response(status, pages.page(title=title, lang=lang, body=body, query=request.query))


def _uuid(value: str) -> str | None:
    # The id goes into an API path: only a UUID may, never "../" or a query.
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def transfer_request(demo: "Demo", consent_id: str) -> dict | None:
    """Ask the operator to relay data under the consent: the transfer, or None.

    When the operator refuses (the consent's limit is used, a service is down),
    the page says so in a note rather than failing.
    """
    try:
        transfer = demo.api.call("POST", "/api/v1/transfers", slug=SLUG, scope="transfers:write",
                                 data={"consent": consent_id})  # fmt: skip
    except ApiError:
        return None
    return transfer if isinstance(transfer, dict) and "id" in transfer else None


def _message(status: int, lang: str, request: Request, text: str) -> Response:
    body = f"<p role=alert>{escape(text)}</p><p><a href=/wellbeing/>Back to the service</a></p>"
    title = pages.t("wellbeing.title", lang)
    return Response(status, pages.page(title=title, lang=lang, body=body, query=request.query))


def deliver(demo: "Demo", request: Request, lang: str) -> Response:
    """The operator delivers data: verified, digest-checked, kept once per Idempotency-Key."""
    try:
        claims = demo.api.verify(
            request.bearer() or "", typ=TRANSFER_TYP, audience=demo.api.service_id(SLUG)
        )
    except TokenInvalid as problem:
        return unauthorized(problem)
    key = request.headers.get("idempotency-key", "")
    if not key or key != str(claims.get("transfer_id")):
        return error(400, "bad_idempotency_key", "Idempotency-Key must be the token's transfer_id.")
    digest = _content_digest(request.headers.get("content-digest", ""))
    if digest is None or not hmac.compare_digest(digest, _sha256(request.body)):
        return error(400, "digest_mismatch", "Content-Digest is not the body's SHA-256.")
    stored = demo.store.delivery_save(
        key=key, consent_id=str(claims.get("consent_id")), subject=str(claims.get("sub")),
        content_type=request.headers.get("content-type", ""), digest=digest, body=request.body,
    )  # fmt: skip
    if not stored and demo.store.delivery_digest(key) != digest:
        return error(422, "idempotency_key_reused", "This key came with another body before.")
    return json_response({"status": "received" if stored else "already_received"})


def _content_digest(header: str) -> str | None:
    found = _DIGEST.search(header)
    return found[1] if found else None


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()
