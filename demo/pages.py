"""HTML for the demo services: one accessible layout, headings in fi, sv and en.

Only the titles, headings and buttons are translated, and what the wellbeing
service says when it attaches an answer to no account: enough for a newcomer
to see the operator's consent screen follow the language they chose here.
"""

from html import escape
from urllib.parse import urlencode

LANGUAGES = ("en", "fi", "sv")
TEXT = {
    "wearable.title": {
        "en": "Askel smartwatch", "fi": "Askel-rannekello", "sv": "Askel-armbandsklocka",
    },
    "wearable.link": {
        "en": "Link your watch to Omadata", "fi": "Yhdistä kellosi Omadataan",
        "sv": "Koppla din klocka till Omadata",
    },
    "wearable.link_button": {"en": "Link", "fi": "Yhdistä", "sv": "Koppla"},
    "wellbeing.title": {
        "en": "Espoo wellbeing service", "fi": "Espoon hyvinvointipalvelu",
        "sv": "Esbo välmående-tjänst",
    },
    "wellbeing.join": {
        "en": "Join the exercise programme: share your daily steps from Askel",
        "fi": "Liity liikuntaohjelmaan: jaa päivittäiset askeleesi Askelista",
        "sv": "Gå med i motionsprogrammet: dela dina dagliga steg från Askel",
    },
    "wellbeing.account": {
        "en": "You are participant {account} here.", "fi": "Olet täällä osallistuja {account}.",
        "sv": "Du är deltagare {account} här.",
    },
    "wellbeing.back": {
        "en": "Back to the wellbeing service", "fi": "Takaisin hyvinvointipalveluun",
        "sv": "Tillbaka till välmående-tjänsten",
    },
    # Why an answer from Omadata was attached to no account (wellbeing.not_attached).
    "wellbeing.not_attached": {
        "en": "Nothing was attached to an account", "fi": "Mitään ei liitetty tiliin",
        "sv": "Ingenting kopplades till ett konto",
    },
    "wellbeing.not_attached.other_browser": {
        "en": "This answer came back in another browser than the one that asked for it. "
              "Someone may have sent you the address of a request they started, to have your "
              "data attached to their account.",
        "fi": "Tämä vastaus palasi eri selaimeen kuin siihen, josta pyyntö lähti. Joku on ehkä "
              "lähettänyt sinulle aloittamansa pyynnön osoitteen saadakseen tietosi omalle "
              "tililleen.",
        "sv": "Det här svaret kom tillbaka i en annan webbläsare än den som skickade begäran. "
              "Någon kan ha skickat dig adressen till en begäran som de startat, för att få "
              "dina uppgifter kopplade till sitt konto.",
    },
    "wellbeing.not_attached.used": {
        "en": "This answer has been used already: an answer counts once, in the browser that "
              "asked for it.",
        "fi": "Tämä vastaus on jo käytetty: vastaus kelpaa kerran, siinä selaimessa, josta "
              "pyyntö lähti.",
        "sv": "Det här svaret har redan använts: ett svar gäller en gång, i den webbläsare som "
              "skickade begäran.",
    },
    "wellbeing.not_attached.unknown": {
        "en": "This answer does not belong to a request of ours.",
        "fi": "Tämä vastaus ei kuulu mihinkään lähettämäämme pyyntöön.",
        "sv": "Det här svaret hör inte till någon begäran som vi har skickat.",
    },
    "wellbeing.not_attached.other_request": {
        "en": "Omadata says that this consent answers another request than the one this "
              "browser started.",
        "fi": "Omadatan mukaan tämä suostumus vastaa eri pyyntöön kuin siihen, jonka tämä "
              "selain aloitti.",
        "sv": "Enligt Omadata besvarar det här samtycket en annan begäran än den som den här "
              "webbläsaren startade.",
    },
    "wellbeing.not_attached.withdraw": {
        "en": "No consent and no data are used for any account here because of it. If you "
              "approved a request in Omadata that you did not start yourself, in this browser, "
              "withdraw that consent under My consents in Omadata.",
        "fi": "Sen vuoksi mitään suostumusta tai tietoja ei käytetä täällä millekään tilille. "
              "Jos hyväksyit Omadatassa pyynnön, jota et itse aloittanut tässä selaimessa, "
              "peru suostumus Omadatan kohdassa Omat suostumukset.",
        "sv": "Därför används inget samtycke och inga uppgifter för något konto här. Om du "
              "godkände en begäran i Omadata som du inte själv startade i den här webbläsaren, "
              "återkalla samtycket under Mina samtycken i Omadata.",
    },
    "my_consents": {
        "en": "My consents in Omadata", "fi": "Omat suostumukset Omadatassa",
        "sv": "Mina samtycken i Omadata",
    },
    "deliveries": {"en": "Data received", "fi": "Vastaanotetut tiedot", "sv": "Mottagna uppgifter"},
    "consents": {"en": "Consents", "fi": "Suostumukset", "sv": "Samtycken"},
    "events": {
        "en": "Notifications from Omadata", "fi": "Omadatan ilmoitukset",
        "sv": "Aviseringar från Omadata",
    },
    "links": {"en": "Linked watches", "fi": "Yhdistetyt kellot", "sv": "Kopplade klockor"},
}  # fmt: skip


def language(query: dict, accept_language: str) -> str:
    """?lang= first, then the first supported language in Accept-Language, else English."""
    if query.get("lang") in LANGUAGES:
        return query["lang"]
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def t(key: str, lang: str) -> str:
    return TEXT[key][lang]


def page(*, title: str, lang: str, body: str, query: dict) -> bytes:
    """A whole page; `body` is HTML that the caller has escaped.

    The language links keep the rest of `query`: the link page needs its token.
    """
    switch = " ".join(
        f'<a href="?{escape(urlencode({**query, "lang": code}))}" lang="{code}" '
        f'hreflang="{code}">{code.upper()}</a>'
        for code in LANGUAGES
        if code != lang
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><nav aria-label="Language">{switch}</nav><main><h1>{escape(title)}</h1>'
        f"{body}</main></body></html>"
    ).encode()


def form(*, action: str, button: str, hidden: dict | None = None) -> str:
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
        for k, v in (hidden or {}).items()
    )
    return (
        f'<form method="post" action="{escape(action)}">{fields}'
        f"<button type=submit>{escape(button)}</button></form>"
    )


def table(*, caption: str, head: list[str], rows: list[list], empty: str) -> str:
    """A captioned table, or a sentence when there is nothing to show."""
    if not rows:
        return f"<h2>{escape(caption)}</h2><p>{escape(empty)}</p>"
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f"<h2>{escape(caption)}</h2><table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
    )


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:1rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}nav{text-align:right}table{border-collapse:collapse}"
    "th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left}"
    "button{font-size:1rem;padding:.5rem 1rem;background:#0050a0;color:#fff;border:0;"
    "border-radius:.25rem}button:focus{outline:3px solid #f0a000}"
)
