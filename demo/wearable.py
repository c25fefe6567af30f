"""The Askel smartwatch: a demo source with one signed-in watch owner and a week of data."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, TypeGuard

from demo import pages, webhooks
from demo.operator_api import LINK_TYP, TRANSFER_TYP, ApiError, TokenInvalid
from demo.web import (
    FORM_TOKEN_FIELD,
    Request,
    Response,
    error,
    form_from_here,
    form_guard,
    json_response,
    redirect,
    unauthorized,
)

if TYPE_CHECKING:
    from demo.server import Demo

SLUG = "wearable"
# The demo has no login of its own: everyone who opens it is this watch owner.
OWNER = {"id": "askel-user-1", "name": "Aino Virtanen"}
DAYS = 7


def _daily(user: str, day: date, low: int, high: int) -> int:
    """A value in [low, high) that depends only on the user and the day: stable demo data."""
    digest = hashlib.sha256(f"{user}:{day.isoformat()}:{low}".encode()).digest()
    return low + int.from_bytes(digest[:4]) % (high - low)


def _last_days() -> list[date]:
    today = datetime.now(UTC).date()
    return [today - timedelta(days=n) for n in range(DAYS, 0, -1)]


READINGS = {
    "wellbeing.steps": lambda user, day: {
        "date": day.isoformat(), "steps": _daily(user, day, 2000, 14000),
    },
    "wellbeing.heart_rate": lambda user, day: {
        "date": day.isoformat(), "resting_bpm": _daily(user, day, 52, 72),
    },
}  # fmt: skip


def readings(user: str, data_types: list[str]) -> dict:
    """The last DAYS full days of each requested data type for `user`."""
    return {key: [READINGS[key](user, day) for day in _last_days()] for key in data_types}


def home(demo: "Demo", request: Request, lang: str) -> Response:
    links = [
        [row["subject"][:12] + "…", row["user"], row["linked_at"]] for row in demo.store.links()
    ]
    body = (
        f"<p>Signed in as {escape(OWNER['name'])}.</p>"
        + pages.table(caption=pages.t("links", lang), head=["subject", "user", "linked"],
                      rows=links, empty="No watch is linked to Omadata yet.")
        + webhooks.events_table(demo, SLUG, lang)
    )  # fmt: skip
    title = pages.t("wearable.title", lang)
    return Response(body=pages.page(title=title, lang=lang, body=body, query=request.query))


def _link_claims(demo: "Demo", token: str) -> dict:
    return demo.api.verify(token, typ=LINK_TYP, audience=demo.api.service_id(SLUG))


# The link form's guard: this browser's secret, in a cookie for the watch's pages only.
FORM_COOKIE = "askel_form"


def link_page(demo: "Demo", request: Request, lang: str) -> Response:
    """Show who is signed in and a Link button; the token is checked before anything is shown."""
    token = request.query.get("link_token", "")
    try:
        _link_claims(demo, token)
    except (TokenInvalid, ApiError) as problem:
        return _link_failed(400, f"This link request cannot be used: {problem}", lang, request)
    form_token, headers = form_guard(
        request, key=demo.form_key, cookie=FORM_COOKIE, path="/wearable/",
        secure=demo.config.demo_url.startswith("https://"),
    )  # fmt: skip
    body = (
        f"<p>You are signed in to Askel as <strong>{escape(OWNER['name'])}</strong>.</p>"
        "<p>Omadata asks to link this watch to your Omadata account. Linking shares no data: "
        "each transfer needs a consent that you give in Omadata. Link only if you started "
        "this yourself, in Omadata, in this browser.</p>"
        + pages.form(action="/wearable/link", button=pages.t("wearable.link_button", lang),
                     hidden={"link_token": token, FORM_TOKEN_FIELD: form_token})
    )  # fmt: skip
    title = pages.t("wearable.link", lang)
    page = pages.page(title=title, lang=lang, body=body, query=request.query)
    return Response(body=page, headers=headers)


def link_confirm(demo: "Demo", request: Request, lang: str) -> Response:
    """Confirm the link with the operator, remember the subject, and send the browser back.

    Only a post from our own link page in this browser counts: another site's page
    could post a link token of its own maker's from the browser of someone signed
    in here, and so link their watch to his Omadata account. The operator, in turn,
    makes the link only when this browser brings its code back to the session that
    started it: so the browser goes to the answer's `return_url`.
    """
    if not form_from_here(request, key=demo.form_key, cookie=FORM_COOKIE):
        text = "This form did not come from Askel's link page in this browser: nothing is linked."
        return _link_failed(403, text, lang, request)
    token = request.form.get("link_token", "")
    try:
        _link_claims(demo, token)
        link = demo.api.call(
            "POST", "/api/v1/links", slug=SLUG, scope="links:write",
            data={"service": demo.api.service_id(SLUG), "token": token, "reference": OWNER["id"]},
        )  # fmt: skip
    except (TokenInvalid, ApiError) as problem:
        return _link_failed(400, f"This link request cannot be used: {problem}", lang, request)
    back = str(link.get("return_url", ""))
    if not back.startswith(f"{demo.config.operator_url}/"):
        return _link_failed(
            502, "Omadata's answer names no return address of its own.", lang, request
        )
    demo.store.link_save(subject=link["subject"], user=OWNER["id"])
    return redirect(back)


def _link_failed(status: int, text: str, lang: str, request: Request) -> Response:
    body = f"<p role=alert>{escape(text)}</p>"
    title = pages.t("wearable.link", lang)
    return Response(status, pages.page(title=title, lang=lang, body=body, query=request.query))


def data(demo: "Demo", request: Request, lang: str) -> Response:
    """The operator fetches a resident's data under a consent: only the types it names."""
    try:
        claims = demo.api.verify(
            request.bearer() or "", typ=TRANSFER_TYP, audience=demo.api.service_id(SLUG)
        )
    except TokenInvalid as problem:
        return unauthorized(problem)
    wanted = claims.get("data_types")
    if not _all_offered(wanted):
        return error(403, "data_types_not_offered", f"Askel offers {sorted(READINGS)} only.")
    user = demo.store.link_user(str(claims.get("sub")))
    if user is None:
        return error(403, "unknown_subject", "No Askel user is linked with this subject.")
    return json_response(readings(user, wanted))


def _all_offered(wanted: object) -> TypeGuard[list[str]]:
    """A non-empty list of data types that the watch offers, and nothing else."""
    return (
        isinstance(wanted, list)
        and bool(wanted)
        and all(isinstance(key, str) and key in READINGS for key in wanted)
    )
