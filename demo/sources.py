"""What every demo source does: a signed-in owner, a link page, and a fetch endpoint.

The Askel smartwatch, Espoo's sports services and Helsinki's resident records
differ only in who they are and what data they hold (a `Source`); linking an
account and answering the operator's fetch work the same for all of them.
"""

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any, TypeGuard

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

DAYS = 7
# The demo sources have no login of their own: everyone who opens one is this person.
OWNER_NAME = "Aino Virtanen"


def daily(user: str, day: date, low: int, high: int, what: str = "") -> int:
    """A value in [low, high) that depends only on user, day and `what`: stable demo data."""
    seed = f"{user}:{day.isoformat()}:{low}" + (f":{what}" if what else "")
    digest = hashlib.sha256(seed.encode()).digest()
    return low + int.from_bytes(digest[:4]) % (high - low)


def last_days() -> list[date]:
    """The last DAYS full days, oldest first."""
    today = datetime.now(UTC).date()
    return [today - timedelta(days=n) for n in range(DAYS, 0, -1)]


@dataclass(frozen=True)
class Source:
    slug: str  # as demo_seed registers it
    path: str  # where its pages are, e.g. "/wearable/"
    name: str  # how its own pages name it in a sentence
    owner_id: str  # its own id for the signed-in owner, sent to Omadata as a link's reference
    links_caption: str  # pages.TEXT key of the caption over its linked accounts
    # Data type → the records of a user: what the source offers, and nothing else.
    data: Mapping[str, Callable[[str], list[dict[str, Any]]]]

    @property
    def form_cookie(self) -> str:
        # The link form's guard: this browser's secret, for this source's pages only.
        return f"{self.slug.replace('-', '_')}_form"

    def readings(self, user: str, data_types: list[str]) -> dict[str, list[dict[str, Any]]]:
        return {key: self.data[key](user) for key in data_types}


def routes(source: Source) -> dict[tuple[str, str], Callable[..., Response]]:
    """The source's pages and endpoints under its path."""
    at = source.path
    return {
        ("GET", at): partial(home, source=source),
        ("GET", f"{at}link"): partial(link_page, source=source),
        ("POST", f"{at}link"): partial(link_confirm, source=source),
        ("GET", f"{at}data"): partial(data, source=source),
        ("POST", f"{at}webhook"): partial(webhooks.receive, slug=source.slug),
    }


def title(source: Source, lang: str) -> str:
    return pages.t(f"{source.slug}.title", lang)


def home(demo: "Demo", request: Request, lang: str, *, source: Source) -> Response:
    links = [
        [row["subject"][:12] + "…", row["user"], row["linked_at"]]
        for row in demo.store.links(service=source.slug)
    ]
    signed_in = pages.t("source.signed_in", lang).format(name=source.name, owner=OWNER_NAME)
    body = (
        f"<p>{escape(signed_in)}</p>"
        + pages.table(caption=pages.t(source.links_caption, lang),
                      head=["subject", "user", "linked"], rows=links,
                      empty=pages.t("source.no_links", lang))
        + webhooks.events_table(demo, source.slug, lang)
    )  # fmt: skip
    return Response(body=pages.page(title=title(source, lang), lang=lang, body=body,
                                    query=request.query))  # fmt: skip


def _link_claims(demo: "Demo", source: Source, token: str) -> dict:
    return demo.api.verify(token, typ=LINK_TYP, audience=demo.api.service_id(source.slug))


def link_page(demo: "Demo", request: Request, lang: str, *, source: Source) -> Response:
    """Show who is signed in and a Link button; the token is checked before anything is shown."""
    token = request.query.get("link_token", "")
    try:
        _link_claims(demo, source, token)
    except (TokenInvalid, ApiError) as problem:
        return _link_failed(source, 400, f"This link request cannot be used: {problem}", lang,
                            request)  # fmt: skip
    form_token, headers = form_guard(
        request, key=demo.form_key, cookie=source.form_cookie, path=source.path,
        secure=demo.config.demo_url.startswith("https://"),
    )  # fmt: skip
    signed_in = pages.t("source.signed_in_as", lang).format(name=source.name)
    body = (
        f"<p>{escape(signed_in)} <strong>{escape(OWNER_NAME)}</strong>.</p>"
        f"<p>{escape(pages.t('source.link_explained', lang).format(name=source.name))}</p>"
        + pages.form(action=f"{source.path}link", button=pages.t("source.link_button", lang),
                     hidden={"link_token": token, FORM_TOKEN_FIELD: form_token})
    )  # fmt: skip
    heading = pages.t("source.link", lang).format(name=source.name)
    page = pages.page(title=heading, lang=lang, body=body, query=request.query)
    return Response(body=page, headers=headers)


def link_confirm(demo: "Demo", request: Request, lang: str, *, source: Source) -> Response:
    """Confirm the link with the operator, remember the subject, and send the browser back.

    Only a post from our own link page in this browser counts: another site's page
    could post a link token of its own maker's from the browser of someone signed
    in here, and so link their account here to his Omadata account. The operator,
    in turn, makes the link only when this browser brings its code back to the
    session that started it: so the browser goes to the answer's `return_url`.
    """
    if not form_from_here(request, key=demo.form_key, cookie=source.form_cookie):
        text = (f"This form did not come from {source.name}'s link page in this browser: "
                "nothing is linked.")  # fmt: skip
        return _link_failed(source, 403, text, lang, request)
    token = request.form.get("link_token", "")
    try:
        _link_claims(demo, source, token)
        link = demo.api.call(
            "POST", "/api/v1/links", slug=source.slug, scope="links:write",
            data={"service": demo.api.service_id(source.slug), "token": token,
                  "reference": source.owner_id},
        )  # fmt: skip
    except (TokenInvalid, ApiError) as problem:
        return _link_failed(source, 400, f"This link request cannot be used: {problem}", lang,
                            request)  # fmt: skip
    back = str(link.get("return_url", ""))
    if not back.startswith(f"{demo.config.operator_url}/"):
        return _link_failed(
            source, 502, "Omadata's answer names no return address of its own.", lang, request
        )
    demo.store.link_save(subject=link["subject"], user=source.owner_id, service=source.slug)
    return redirect(back)


def _link_failed(source: Source, status: int, text: str, lang: str, request: Request) -> Response:
    body = f"<p role=alert>{escape(text)}</p>"
    heading = pages.t("source.link", lang).format(name=source.name)
    return Response(status, pages.page(title=heading, lang=lang, body=body, query=request.query))


def data(demo: "Demo", request: Request, lang: str, *, source: Source) -> Response:
    """The operator fetches a resident's data under a consent: only the types it names.

    The token must be the operator's, for this source (`aud`), unexpired, and about
    a subject linked here: a subject linked at another source is no one here.
    """
    try:
        claims = demo.api.verify(
            request.bearer() or "", typ=TRANSFER_TYP, audience=demo.api.service_id(source.slug)
        )
    except TokenInvalid as problem:
        return unauthorized(problem)
    wanted = claims.get("data_types")
    if not _all_offered(wanted, source=source):
        return error(403, "data_types_not_offered",
                     f"{source.name} offers {sorted(source.data)} only.")  # fmt: skip
    user = demo.store.link_user(str(claims.get("sub")), service=source.slug)
    if user is None:
        return error(
            403, "unknown_subject", f"No one at {source.name} is linked with this subject."
        )
    return json_response(source.readings(user, wanted))


def _all_offered(wanted: object, *, source: Source) -> TypeGuard[list[str]]:
    """A non-empty list of data types that the source offers, and nothing else."""
    return (
        isinstance(wanted, list)
        and bool(wanted)
        and all(isinstance(key, str) and key in source.data for key in wanted)
    )
