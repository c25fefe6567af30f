"""HTML for the demo services: one accessible layout, headings in fi, sv and en.

The titles, headings, buttons and what a page is about are translated, and what
a sink says when it attaches an answer to no account: enough for a newcomer to
see the operator's consent screen follow the language they chose here.
"""

from html import escape
from urllib.parse import urlencode

LANGUAGES = ("en", "fi", "sv")
TEXT = {
    # -- the sources
    "wearable.title": {
        "en": "Askel smartwatch", "fi": "Askel-rannekello", "sv": "Askel-armbandsklocka",
    },
    "espoo-sports.title": {
        "en": "Espoo sports services", "fi": "Espoon liikuntapalvelut",
        "sv": "Esbo idrottstjänster",
    },
    "helsinki-records.title": {
        "en": "Helsinki resident records", "fi": "Helsingin asukastiedot",
        "sv": "Helsingfors invånaruppgifter",
    },
    "source.signed_in": {
        "en": "Signed in to {name} as {owner}.", "fi": "Kirjautuneena palveluun {name}: {owner}.",
        "sv": "Inloggad i {name} som {owner}.",
    },
    "source.signed_in_as": {
        "en": "You are signed in to {name} as", "fi": "Olet kirjautunut palveluun {name} nimellä",
        "sv": "Du är inloggad i {name} som",
    },
    "source.link": {
        "en": "Link your {name} account to Omadata", "fi": "Yhdistä {name}-tilisi Omadataan",
        "sv": "Koppla ditt konto i {name} till Omadata",
    },
    "source.link_explained": {
        "en": "Omadata asks to link your account at {name} to your Omadata account. Linking "
              "shares no data: each transfer needs a consent that you give in Omadata. Link only "
              "if you started this yourself, in Omadata, in this browser.",
        "fi": "Omadata pyytää yhdistämään tilisi palvelussa {name} Omadata-tiliisi. Yhdistäminen "
              "ei jaa tietoja: jokainen siirto tarvitsee suostumuksen, jonka annat Omadatassa. "
              "Yhdistä vain, jos aloitit tämän itse, Omadatassa, tässä selaimessa.",
        "sv": "Omadata ber att få koppla ditt konto i {name} till ditt Omadata-konto. Kopplingen "
              "delar inga uppgifter: varje överföring kräver ett samtycke som du ger i Omadata. "
              "Koppla bara om du själv startade detta, i Omadata, i den här webbläsaren.",
    },
    "source.link_button": {"en": "Link", "fi": "Yhdistä", "sv": "Koppla"},
    "source.no_links": {
        "en": "Nothing is linked to Omadata yet.",
        "fi": "Mitään ei ole vielä yhdistetty Omadataan.",
        "sv": "Inget är kopplat till Omadata ännu.",
    },
    "links": {"en": "Linked watches", "fi": "Yhdistetyt kellot", "sv": "Kopplade klockor"},
    "links.accounts": {"en": "Linked accounts", "fi": "Yhdistetyt tilit", "sv": "Kopplade konton"},
    # -- the wellbeing service
    "wellbeing.title": {
        "en": "Espoo wellbeing service", "fi": "Espoon hyvinvointipalvelu",
        "sv": "Esbo välmående-tjänst",
    },
    "wellbeing.join": {
        "en": "Join the exercise programme: share your daily steps from Askel and your sports "
              "visits from the city",
        "fi": "Liity liikuntaohjelmaan: jaa päivittäiset askeleesi Askelista ja liikuntakäyntisi "
              "kaupungilta",
        "sv": "Gå med i motionsprogrammet: dela dina dagliga steg från Askel och dina "
              "idrottsbesök från staden",
    },
    "wellbeing.account": {
        "en": "You are participant {account} here.", "fi": "Olet täällä osallistuja {account}.",
        "sv": "Du är deltagare {account} här.",
    },
    "wellbeing.back": {
        "en": "Back to the wellbeing service", "fi": "Takaisin hyvinvointipalveluun",
        "sv": "Tillbaka till välmående-tjänsten",
    },
    "wellbeing.days": {"en": "Your days", "fi": "Päiväsi", "sv": "Dina dagar"},
    "wellbeing.days.parts": {
        "en": "(transfer {transfer}: {received} of {parts} parts received)",
        "fi": "(siirto {transfer}: {received}/{parts} osaa vastaanotettu)",
        "sv": "(överföring {transfer}: {received} av {parts} delar mottagna)",
    },
    "wellbeing.days.none": {
        "en": "No days have arrived yet.", "fi": "Päiviä ei ole vielä saapunut.",
        "sv": "Inga dagar har kommit ännu.",
    },
    "wellbeing.days.date": {"en": "date", "fi": "päivä", "sv": "datum"},
    "wellbeing.days.steps": {"en": "steps", "fi": "askeleet", "sv": "steg"},
    "wellbeing.days.swims": {"en": "swims", "fi": "uintikäynnit", "sv": "simbesök"},
    "wellbeing.days.gym": {"en": "gym visits", "fi": "kuntosalikäynnit", "sv": "gymbesök"},
    # -- the newcomer service
    "espoo-newcomer.title": {
        "en": "Espoo newcomer service", "fi": "Espoon uuden asukkaan palvelu",
        "sv": "Esbo tjänst för nya invånare",
    },
    "espoo-newcomer.account": {
        "en": "You are newcomer {account} here.", "fi": "Olet täällä uusi asukas {account}.",
        "sv": "Du är ny invånare {account} här.",
    },
    "espoo-newcomer.intro": {
        "en": "Moving to Espoo? Bring your address history and library loans from Helsinki "
              "with one consent, used once.",
        "fi": "Muutatko Espooseen? Tuo osoitehistoriasi ja kirjastolainasi Helsingistä yhdellä "
              "suostumuksella, joka käytetään kerran.",
        "sv": "Flyttar du till Esbo? Ta med din adresshistorik och dina bibliotekslån från "
              "Helsingfors med ett samtycke som används en gång.",
    },
    "espoo-newcomer.join": {
        "en": "I am moving to Espoo", "fi": "Muutan Espooseen", "sv": "Jag flyttar till Esbo",
    },
    "espoo-newcomer.back": {
        "en": "Back to the newcomer service", "fi": "Takaisin uuden asukkaan palveluun",
        "sv": "Tillbaka till tjänsten för nya invånare",
    },
    "espoo-newcomer.from": {
        "en": "Your history from {city} ({service})", "fi": "Historiasi: {city} ({service})",
        "sv": "Din historik från {city} ({service})",
    },
    "espoo-newcomer.from_unknown": {
        "en": "Your history, from a source Omadata did not name",
        "fi": "Historiasi lähteestä, jota Omadata ei nimennyt",
        "sv": "Din historik, från en källa som Omadata inte namngav",
    },
    "espoo-newcomer.received": {
        "en": "Received {when}.", "fi": "Vastaanotettu {when}.", "sv": "Mottagen {when}.",
    },
    "espoo-newcomer.addresses": {
        "en": "Addresses", "fi": "Osoitteet", "sv": "Adresser",
    },
    "espoo-newcomer.loans": {
        "en": "Library loans", "fi": "Kirjastolainat", "sv": "Bibliotekslån",
    },
    "espoo-newcomer.none": {"en": "None.", "fi": "Ei yhtään.", "sv": "Inga."},
    "espoo-newcomer.col.from": {"en": "from", "fi": "alkaen", "sv": "från"},
    "espoo-newcomer.col.to": {"en": "to", "fi": "asti", "sv": "till"},
    "espoo-newcomer.col.municipality": {"en": "municipality", "fi": "kunta", "sv": "kommun"},
    "espoo-newcomer.col.district": {"en": "district", "fi": "kaupunginosa", "sv": "stadsdel"},
    "espoo-newcomer.col.year": {"en": "year", "fi": "vuosi", "sv": "år"},
    "espoo-newcomer.col.loans": {"en": "loans", "fi": "lainat", "sv": "lån"},
    # -- both sinks: why an answer from Omadata was attached to no account (sinks.not_attached)
    "not_attached": {
        "en": "Nothing was attached to an account", "fi": "Mitään ei liitetty tiliin",
        "sv": "Ingenting kopplades till ett konto",
    },
    "not_attached.other_browser": {
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
    "not_attached.used": {
        "en": "This answer has been used already: an answer counts once, in the browser that "
              "asked for it.",
        "fi": "Tämä vastaus on jo käytetty: vastaus kelpaa kerran, siinä selaimessa, josta "
              "pyyntö lähti.",
        "sv": "Det här svaret har redan använts: ett svar gäller en gång, i den webbläsare som "
              "skickade begäran.",
    },
    "not_attached.unknown": {
        "en": "This answer does not belong to a request of ours.",
        "fi": "Tämä vastaus ei kuulu mihinkään lähettämäämme pyyntöön.",
        "sv": "Det här svaret hör inte till någon begäran som vi har skickat.",
    },
    "not_attached.other_request": {
        "en": "Omadata says that this consent answers another request than the one this "
              "browser started.",
        "fi": "Omadatan mukaan tämä suostumus vastaa eri pyyntöön kuin siihen, jonka tämä "
              "selain aloitti.",
        "sv": "Enligt Omadata besvarar det här samtycket en annan begäran än den som den här "
              "webbläsaren startade.",
    },
    "not_attached.withdraw": {
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


def table(*, caption: str, head: list[str], rows: list[list], empty: str, level: int = 2) -> str:
    """A table under a heading of `level`, or a sentence when there is nothing to show."""
    heading = f"<h{level}>{escape(caption)}</h{level}>"
    if not rows:
        return f"{heading}<p>{escape(empty)}</p>"
    th = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"{heading}<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:1rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}nav{text-align:right}table{border-collapse:collapse}"
    "th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left}"
    "button{font-size:1rem;padding:.5rem 1rem;background:#0050a0;color:#fff;border:0;"
    "border-radius:.25rem}button:focus{outline:3px solid #f0a000}"
)
