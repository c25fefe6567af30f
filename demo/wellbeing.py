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
from demo.web import (
    Request,
    Response,
    error,
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


def home(demo: "Demo", request: Request, lang: str) -> Response:
    body = (
        _outcome(demo, request.query)
        + pages.form(action="/wellbeing/join", button=pages.t("wellbeing.join", lang))
        + _deliveries_table(demo, lang)
        + pages.table(caption=pages.t("consents", lang),
                      head=["consent", "status", "updated", "transfer"],
                      rows=[[c["id"], c["status"], c["updated_at"], c["transfer"]]
                            for c in demo.store.consents()],
                      empty="No consent yet.")
        + webhooks.events_table(demo, SLUG, lang)
    )  # fmt: skip
    title = pages.t("wellbeing.title", lang)
    return Response(body=pages.page(title=title, lang=lang, body=body, query=request.query))


def _outcome(demo: "Demo", query: dict) -> str:
    """What came of the resident's answer, when they have just come back with one."""
    if query.get("answer") == "refused":
        text = "You refused: nothing will be shared. You can join later."
    elif query.get("answer") == "approved":
        known = {c["id"]: c for c in demo.store.consents()}.get(query.get("consent", ""))
        if known is None:
            return ""
        text = (f"You approved: consent {known['id']} is {known['status']}. "
                f"Transfer: {known['transfer'] or 'not requested'}.")  # fmt: skip
    else:
        return ""
    return f"<p role=status>{escape(text)}</p>"


def _deliveries_table(demo: "Demo", lang: str) -> str:
    rows = [
        [d["received_at"], d["idempotency_key"], d["byte_count"], summarise(d["body"])]
        for d in demo.store.deliveries()
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
    """Ask Omadata for the resident's consent and send their browser to it.

    No CSRF token: a forged post only starts a request that the resident must
    still approve, logged in, on Omadata's own screen.
    """
    state = secrets.token_urlsafe(24)
    demo.store.state_save(state)
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
            },
        )  # fmt: skip
    except ApiError as problem:
        return _message(502, lang, request, f"Omadata did not take the request: {problem}")
    return redirect(asked["url"])


def back(demo: "Demo", request: Request, lang: str) -> Response:
    """The resident returns from Omadata with an answer to a request we made.

    The answer is handled once (its state is then used up) and the browser
    moves on to the landing page, which shows the outcome and may be reloaded.
    """
    if not demo.store.state_use(request.query.get("state", "")):
        return _message(400, lang, request, "This answer does not belong to a request of ours.")
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
    demo.store.consent_save(consent_id=consent_id, status=consent["status"])
    transfer = transfer_request(demo, consent_id)
    if transfer is None:
        demo.store.consent_save(consent_id=consent_id, status=consent["status"], note=UNAVAILABLE)
    else:
        status = str(transfer.get("status", "requested"))
        demo.store.transfer_save(
            transfer_id=str(transfer["id"]), consent_id=consent_id, status=status, news=False
        )
    query = {"answer": "approved", "consent": consent_id, "lang": lang}
    return redirect("/wellbeing/?" + urlencode(query))


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
