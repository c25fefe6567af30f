"""The Espoo wellbeing service: a demo sink that joins a resident's steps to her sports visits.

It asks one consent over two sources, the Askel watch (steps) and the city's
sports services (swimming hall and gym visits), and shows what arrives joined
per day. A transfer under it comes in two parts, one per source, told apart by
each part's `source` and grouped by its `transfer_id`.
"""

from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from demo import pages, sinks, sports, wearable, webhooks
from demo.sinks import Sink
from demo.store import account_of
from demo.web import FORM_TOKEN_FIELD, Request, Response, form_token, json_loads

if TYPE_CHECKING:
    import sqlite3

    from demo.server import Demo

SLUG = "wellbeing"
BROWSER_COOKIE = "wellbeing_browser"
STEPS, VISITS = "wellbeing.steps", "sports.visits"
PURPOSE = {
    "fi": "Päivittäiset askeleesi ja uimahalli- ja kuntosalikäyntisi Espoon liikuntaohjelmaan, "
          "joka seuraa edistymistäsi.",
    "sv": "Dina dagliga steg och dina besök i simhallar och gym till Esbos motionsprogram, "
          "som följer dina framsteg.",
    "en": "Your daily steps and your swimming hall and gym visits for Espoo's exercise "
          "programme, which follows your progress.",
}  # fmt: skip
VALID_DAYS = 90


def terms(demo: "Demo") -> dict[str, Any]:
    """One consent over the watch and the city's records."""
    return {
        "sources": [
            {"source": demo.api.service_id(wearable.SLUG), "data_types": [STEPS]},
            {"source": demo.api.service_id(sports.SLUG), "data_types": [VISITS]},
        ],
        "purpose": PURPOSE,
        "purpose_category": "wellbeing",
        "valid_until": (datetime.now(UTC) + timedelta(days=VALID_DAYS)).isoformat(),
        "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
    }


SINK = Sink(slug=SLUG, path="/wellbeing/", cookie=BROWSER_COOKIE, label="participant {account}",
            terms=terms)  # fmt: skip


def label(account: str) -> str:
    """How the account is named to its holder, here and on Omadata's consent screen."""
    return SINK.label.format(account=account)


def home(demo: "Demo", request: Request, lang: str) -> Response:
    """The account's page: what it joined, and what arrived for it; nobody else's."""
    secret, headers = sinks.browser(demo, request, SINK)
    account = account_of(secret)
    deliveries = demo.store.account_deliveries(account)
    body = (
        f"<p>{escape(pages.t('wellbeing.account', lang).format(account=account))}</p>"
        + sinks.outcome(demo, request.query, account)
        + pages.form(action="/wellbeing/join", button=pages.t("wellbeing.join", lang),
                     hidden={FORM_TOKEN_FIELD: form_token(demo.form_key, secret)})
        + _days_table(deliveries, lang)
        + _deliveries_table(deliveries, lang)
        + sinks.consents_table(demo, account, lang)
        + webhooks.events_table(demo, SLUG, lang, account=account)
    )  # fmt: skip
    title = sinks.title(SINK, lang)
    page = pages.page(title=title, lang=lang, body=body, query=request.query)
    return Response(body=page, headers=headers)


def _deliveries_table(deliveries: list["sqlite3.Row"], lang: str) -> str:
    rows = [
        [d["received_at"], d["idempotency_key"], _from(d), d["byte_count"], summarise(d["body"])]
        for d in deliveries
    ]
    return pages.table(caption=pages.t("deliveries", lang),
                       head=["received", "transfer", "from", "bytes", "summary"], rows=rows,
                       empty="Nothing has arrived yet.")  # fmt: skip


def _from(delivery: "sqlite3.Row") -> str:
    source = sinks.source_of(delivery)
    if not source:
        return "-"
    numbered = f"part {delivery['part']} of {delivery['parts']}: " if delivery["part"] else ""
    return f"{numbered}{source.get('organisation') or '?'} ({source.get('slug') or '?'})"


def summarise(body: bytes) -> str:
    """One line about a delivered body: days and totals, or what else it holds."""
    try:
        content = json_loads(body)
        said = []
        if STEPS in content:
            steps = content[STEPS]
            said.append(f"{len(steps)} days, {sum(int(day['steps']) for day in steps)} steps")
        if VISITS in content:
            visits = content[VISITS]
            swims = sum(int(day["swims"]) for day in visits)
            gym = sum(int(day["gym_visits"]) for day in visits)
            said.append(f"{len(visits)} days, {swims} swims, {gym} gym visits")
    except (ValueError, TypeError, KeyError, AttributeError):
        return "not the JSON this service expects"
    others = sorted(set(content) - {STEPS, VISITS})
    if not said and not others:
        return "not the JSON this service expects"
    return "; ".join(said) + (f"; also {', '.join(others)}" if others else "")


def joined_days(parts: list["sqlite3.Row"]) -> dict[str, dict[str, int]]:
    """The parts of one transfer joined per day: {date: {steps, swims, gym_visits}}.

    Each part is kept once (its idempotency key); a part that is not the JSON
    this service expects adds nothing, and the others still join.
    """
    days: dict[str, dict[str, int]] = {}
    for part in parts:
        try:
            content = json_loads(part["body"])
            found = [(day["date"], "steps", day["steps"]) for day in content.get(STEPS, [])]
            for day in content.get(VISITS, []):
                found += [(day["date"], "swims", day["swims"]),
                          (day["date"], "gym_visits", day["gym_visits"])]  # fmt: skip
            values = [(str(date)[:10], name, int(value)) for date, name, value in found]
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        for date, name, value in values:
            days.setdefault(date, {})[name] = value
    return dict(sorted(days.items()))


def latest_transfer(deliveries: list["sqlite3.Row"]) -> list["sqlite3.Row"]:
    """The parts of the newest transfer that delivered anything: one row per part."""
    if not deliveries:
        return []
    newest = _transfer_of(deliveries[0])  # deliveries come newest first
    return [d for d in deliveries if _transfer_of(d) == newest]


def _transfer_of(delivery: "sqlite3.Row") -> str:
    # A delivery kept before parts existed has no transfer_id: its key is the transfer's id.
    return str(delivery["transfer_id"] or delivery["idempotency_key"])


def _days_table(deliveries: list["sqlite3.Row"], lang: str) -> str:
    parts = latest_transfer(deliveries)
    days = joined_days(parts)
    rows = [
        [date, *(str(values[name]) if name in values else "-"
                 for name in ("steps", "swims", "gym_visits"))]
        for date, values in days.items()
    ]  # fmt: skip
    caption = pages.t("wellbeing.days", lang)
    if parts:
        expected = max(int(p["parts"] or 1) for p in parts)
        caption += " " + pages.t("wellbeing.days.parts", lang).format(
            transfer=_transfer_of(parts[0]), received=len(parts), parts=expected
        )
    head = [pages.t(f"wellbeing.days.{name}", lang) for name in ("date", "steps", "swims", "gym")]
    return pages.table(caption=caption, head=head, rows=rows,
                       empty=pages.t("wellbeing.days.none", lang))  # fmt: skip
