"""Espoo's newcomer service: a demo sink that welcomes a resident moving to Espoo.

She brings her history from the city she leaves with a one-off consent (purpose
`relocation`); the page shows it, and from which city it came: the organisation
that the operator's token names as the part's `source`.
"""

from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from demo import helsinki, pages, sinks, webhooks
from demo.sinks import Sink
from demo.store import account_of
from demo.web import FORM_TOKEN_FIELD, Request, Response, form_token, json_loads

if TYPE_CHECKING:
    import sqlite3

    from demo.server import Demo

SLUG = "espoo-newcomer"
BROWSER_COOKIE = "newcomer_browser"
ADDRESSES, LOANS = "city.address_history", "library.loans"
PURPOSE = {
    "fi": "Osoitehistoriasi ja kirjastolainasi entisestä kotikunnastasi, jotta Espoo voi "
          "toivottaa sinut tervetulleeksi: kirjastokortti historioinesi ja uuden "
          "asuinalueesi palvelut.",
    "sv": "Din adresshistorik och dina bibliotekslån från din förra hemkommun, så att Esbo "
          "kan välkomna dig: ett bibliotekskort med din historik och tjänsterna i ditt nya "
          "område.",
    "en": "Your address history and library loans from your previous home municipality, so "
          "that Espoo can welcome you: a library card with your history, and the services "
          "of your new district.",
}  # fmt: skip
# The request is answered within this; the one transfer happens right after.
VALID_DAYS = 30


def terms(demo: "Demo") -> dict[str, Any]:
    """A one-off consent over Helsinki's records."""
    return {
        "sources": [
            {"source": demo.api.service_id(helsinki.SLUG), "data_types": [ADDRESSES, LOANS]}
        ],
        "purpose": PURPOSE,
        "purpose_category": "relocation",
        "valid_until": (datetime.now(UTC) + timedelta(days=VALID_DAYS)).isoformat(),
        "frequency": {"kind": "one_off"},
    }


SINK = Sink(slug=SLUG, path="/newcomer/", cookie=BROWSER_COOKIE, label="newcomer {account}",
            terms=terms)  # fmt: skip


def home(demo: "Demo", request: Request, lang: str) -> Response:
    """The account's page: its move, and the history that arrived for it; nobody else's."""
    secret, headers = sinks.browser(demo, request, SINK)
    account = account_of(secret)
    body = (
        f"<p>{escape(pages.t('espoo-newcomer.account', lang).format(account=account))}</p>"
        f"<p>{escape(pages.t('espoo-newcomer.intro', lang))}</p>"
        + sinks.outcome(demo, request.query, account)
        + pages.form(action="/newcomer/join", button=pages.t("espoo-newcomer.join", lang),
                     hidden={FORM_TOKEN_FIELD: form_token(demo.form_key, secret)})
        + "".join(_history(demo, d, lang) for d in demo.store.account_deliveries(account))
        + sinks.consents_table(demo, account, lang)
        + webhooks.events_table(demo, SLUG, lang, account=account)
    )  # fmt: skip
    page = pages.page(title=sinks.title(SINK, lang), lang=lang, body=body, query=request.query)
    return Response(body=page, headers=headers)


def came_from(demo: "Demo", delivery: "sqlite3.Row", lang: str) -> str:
    """ "From <organisation> (<service>)": the city a delivery came from, as its source names it."""
    source = sinks.source_of(delivery)
    if not source:
        return pages.t("espoo-newcomer.from_unknown", lang)
    entry = demo.api.service_entry(source.get("id", "")) or {}
    service = (entry.get("name") or {}).get(lang) or source.get("slug") or "?"
    city = source.get("organisation") or "?"
    return pages.t("espoo-newcomer.from", lang).format(city=city, service=service)


def _history(demo: "Demo", delivery: "sqlite3.Row", lang: str) -> str:
    """One delivered history: where it came from, then its addresses and library loans."""
    heading = f"<h2>{escape(came_from(demo, delivery, lang))}</h2>"
    received = pages.t("espoo-newcomer.received", lang).format(when=delivery["received_at"])
    try:
        content = json_loads(delivery["body"])
        addresses = [[str(a["from"]), str(a["to"] or "-"), str(a["municipality"]),
                      str(a["district"])] for a in content.get(ADDRESSES, [])]  # fmt: skip
        loans = [[str(year["year"]), str(int(year["loans"]))] for year in content.get(LOANS, [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        return heading + "<p>not the JSON this service expects</p>"
    return (
        heading + f"<p>{escape(received)}</p>"
        + _table("espoo-newcomer.addresses", ["from", "to", "municipality", "district"],
                 addresses, lang)
        + _table("espoo-newcomer.loans", ["year", "loans"], loans, lang)
    )  # fmt: skip


def _table(caption: str, head: list[str], rows: list[list[str]], lang: str) -> str:
    # A history's tables are h3: they belong to the h2 that says where it came from.
    heads = [pages.t(f"espoo-newcomer.col.{name}", lang) for name in head]
    return pages.table(caption=pages.t(caption, lang), head=heads, rows=rows,
                       empty=pages.t("espoo-newcomer.none", lang), level=3)  # fmt: skip
