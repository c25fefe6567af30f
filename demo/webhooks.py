"""Signed notifications from the operator to either demo service's webhook."""

import json
from typing import TYPE_CHECKING

from demo import pages
from demo.operator_api import NOTIFICATION_TYP, TokenInvalid
from demo.web import Request, Response, error, json_response

if TYPE_CHECKING:
    from demo.server import Demo

# The demo's sinks, which keep their consents and transfers in step with notifications.
SINKS = ("wellbeing", "espoo-newcomer")


def receive(demo: "Demo", request: Request, lang: str, *, slug: str) -> Response:
    """Verify a notification meant for service `slug`, and record it once per id."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/jose":
        return error(415, "unsupported_media_type", "A notification is application/jose.")
    try:
        claims = demo.api.verify(
            request.body.decode(errors="replace"), typ=NOTIFICATION_TYP,
            audience=demo.api.service_id(slug), is_token=False,
        )  # fmt: skip
    except TokenInvalid as problem:
        return error(400, "invalid_notification", str(problem))
    data = claims.get("data")
    if not isinstance(data, dict):
        data = {}
    demo.store.event_save(
        service=slug, event_id=str(claims.get("id")), event=str(claims.get("event")),
        summary=_summary(data), consent_id=str(data.get("consent_id") or ""),
    )  # fmt: skip
    if slug in SINKS:
        _follow(demo, event=str(claims.get("event")), data=data)
    return json_response({"status": "received"})


def _follow(demo: "Demo", *, event: str, data: dict) -> None:
    """Keep the sink's consent list in step with what the operator tells it.

    A notification changes the status of a consent that an account holds, and
    never attaches one to an account: `consent.granted` says that someone
    approved a request of ours, not in whose browser. Only the answer's return
    in the browser that asked attaches it (sinks.back).
    """
    status = str(data.get("status", ""))
    if event.startswith("consent.") and data.get("consent_id") and status:
        demo.store.consent_status(consent_id=str(data["consent_id"]), status=status)
    elif event.startswith("transfer.") and data.get("transfer_id") and status:
        demo.store.transfer_save(
            transfer_id=str(data["transfer_id"]), consent_id=str(data.get("consent_id")),
            status=status, news=True,
        )  # fmt: skip


def events_table(demo: "Demo", slug: str, lang: str, *, account: str | None = None) -> str:
    """The last notifications service `slug` received, for its page.

    With `account`, only those about that account's consents: the page is its own.
    """
    store = demo.store
    events = store.events(slug) if account is None else store.account_events(slug, account)
    rows = [[e["received_at"], e["event"], e["summary"]] for e in events]
    return pages.table(caption=pages.t("events", lang), head=["received", "event", "about"],
                       rows=rows, empty="None yet.")  # fmt: skip


def _summary(data: dict) -> str:
    # The receipt is long and verifiable elsewhere; the page shows what it is about.
    shown = {k: v for k, v in data.items() if k != "receipt"}
    return json.dumps(shown, sort_keys=True)
