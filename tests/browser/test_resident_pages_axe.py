"""Every page a resident sees passes axe in Chromium, in Finnish, Swedish and English.

One account holds something for every page: a consent request with a link step still to
take, one ready to approve (two sources, a sink with an algorithm), a live consent with
receipts and a transfer in two parts, an ended consent, source and sink links, and a history
imported from another operator. Each language walks every page once with that account,
error states included, and the consent screen and a consent's page are saved as PNG in the
run's artefacts (OMADATA_ARTEFACTS; see docs/development.md).
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from consent import services as consent_services
from consent.receipts import transfer_receipt_issue
from portability.models import ImportedConsent, ImportedHistory
from relay.models import Transfer, TransferPart
from tests.factories import (
    PASSWORD,
    grant_consent,
    link_resident,
    register_service,
    request_consent,
    request_consent_over,
    source_spec,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"fi": "fi-FI", "sv": "sv-FI", "en": "en-GB"}
VIEWPORT = {"width": 1000, "height": 800}
STEPS, HEART, CONTACT = "wellbeing.steps", "wellbeing.heart_rate", "city.contact_details"


@pytest.fixture
def scale(source_provider, data_types, staff):
    """A second source of Askel's, a bathroom scale: the source Aino has not linked yet."""
    spec = source_spec(
        slug="scale", name={"fi": "Askel-vaaka", "sv": "Askel-våg", "en": "Askel scale"}
    )
    return register_service(source_provider, spec, approve_by=staff)


def _two_part_transfer(consent) -> Transfer:
    """A delivered transfer that fetched from both of the consent's sources."""
    now = timezone.now()
    parts = consent.source_parts()
    transfer = Transfer.objects.create(
        consent=consent, requested_by=consent.sink.organisation, status="delivered",
        next_attempt_at=now, byte_count=2048, sha256="cd" * 32, finished_at=now,
    )  # fmt: skip
    for number, part in enumerate(parts, start=1):
        with transaction.atomic():
            receipt = transfer_receipt_issue(
                consent=consent, transfer_id=str(transfer.id), byte_count=1024,
                sha256="ab" * 32, part=number, parts=len(parts), source=part.service,
            )  # fmt: skip
        TransferPart.objects.create(
            transfer=transfer, number=number, source=part.service, data_types=part.data_types,
            status="delivered", byte_count=1024, sha256="ab" * 32,
            content_type="application/json", delivered_at=now, receipt=receipt,
        )  # fmt: skip
    return transfer


def _imported(resident, sink, source) -> ImportedHistory:
    """A history brought from another operator, as portability.imports keeps a checked one."""
    now = timezone.now()
    history = ImportedHistory.objects.create(
        resident=resident, operator="https://omadata.example.org", account="a" * 32,
        exported_at=now, sha256="ef" * 32, document={},
    )  # fmt: skip
    ImportedConsent.objects.create(
        history=history, original_id="6f1c1f3e-2c2a-4a56-9a43-5a3c4c1d2e01", status="withdrawn",
        sink_slug=sink.slug, sink_business_id=sink.organisation.business_id,
        sink_name={"fi": "Hyvinvointi", "sv": "Välmående", "en": "Wellbeing"},
        sources=[{"slug": source.slug, "business_id": source.organisation.business_id,
                  "name": {"fi": "Askel-kello", "sv": "Askel-klocka", "en": "Askel watch"},
                  "data_types": [STEPS]}],
        valid_until=now, created_at=now - timedelta(days=40), terms={},
    )  # fmt: skip
    return history


@pytest.fixture
def account(aino, wearable, city, scale, joiner, wellbeing):
    """Aino's account, with something on every page; returns what the walk visits."""
    link_resident(aino, wearable)
    link_resident(aino, city, reference="city-resident-1")
    live = grant_consent(
        request_consent_over(sink=joiner, parts=[(wearable, [STEPS, HEART]), (city, [CONTACT])]),
        aino,
    )
    _two_part_transfer(live)
    ended = grant_consent(request_consent(sink=wellbeing, source=wearable), aino)
    consent_services.consent_withdraw(consent=ended)
    _imported(aino, wellbeing, wearable)
    return {
        # City is linked, the scale is not: the screen's next step is to link the scale.
        "link_pending": request_consent_over(
            sink=joiner, parts=[(city, [CONTACT]), (scale, [HEART])]
        ),
        "ready": request_consent_over(sink=joiner, parts=[(wearable, [STEPS]), (city, [CONTACT])]),
        "consent": live,
    }


class Walk:
    """One browser in one language, signed in as Aino: each page checked by axe on the way."""

    def __init__(self, page, base: str, lang: str, axe) -> None:
        self.page, self.base, self.lang, self.axe = page, base, lang, axe
        self.violations: dict[str, list[str]] = {}

    def check(self, name: str, *shown: str) -> None:
        """Axe on the page once each of `shown` (selectors of what this page's state shows)
        is there: a page that failed to show them fails the walk, not only axe."""
        for selector in shown:
            self.page.locator(selector).first.wait_for()
        assert self.page.locator("html").get_attribute("lang") == self.lang, name
        self.violations[name] = self.axe(self.page)

    def visit(self, name: str, path: str, *shown: str) -> None:
        self.page.goto(f"{self.base}{path}")
        self.check(name, *shown)


def _log_in(page, password: str) -> None:
    page.locator("#id_username").fill("aino")
    page.locator("#id_password").fill(password)
    page.locator("form.stack button[type=submit]").click()


@pytest.mark.parametrize("lang", LOCALES)
def test_every_resident_page_passes_axe(browser, live_server, account, axe, artefacts, lang):
    context = browser.new_context(locale=LOCALES[lang], viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    walk = Walk(page, live_server.url, lang, axe)
    ready, consent = account["ready"].id, account["consent"].id

    walk.visit("login", f"/accounts/login/?next=/consent/requests/{ready}", "#id_username")
    _log_in(page, "not the password")
    walk.check("login, refused", "[role=alert]")
    _log_in(page, PASSWORD)

    walk.check("consent screen, ready to approve", ".answers button[value=approve]")
    page.screenshot(path=artefacts / f"consent-screen-{lang}.png", full_page=True)
    walk.visit(
        "consent screen, a link to make first",
        f"/consent/requests/{account['link_pending'].id}",
        ".link-steps",
    )
    walk.visit("my consents", "/my/consents", "section[aria-labelledby^=imported-]")
    walk.visit(
        "a consent's page", f"/my/consents/{consent}", ".receipt time", "table.transfers .parts"
    )
    page.screenshot(path=artefacts / f"consent-page-{lang}.png", full_page=True)
    walk.visit("download my data", "/my/data", "#code")
    walk.visit("import", "/my/data/import", "#export")
    page.locator("#export").set_input_files(
        files=[{"name": "export.json", "mimeType": "application/json", "buffer": b"{"}]
    )
    page.locator("form[enctype] button[type=submit]").click()
    walk.check("import, refused", ".message.error[role=alert]")
    walk.visit("close account", "/my/account/close", "#confirm")
    # The box is required; a browser that ignores that still gets the page with the reason.
    page.locator("form.stack").evaluate("form => { form.noValidate = true; }")
    page.locator("form.stack button[type=submit]").click()
    walk.check("close account, not confirmed", "#confirm-error")
    walk.visit("link not made", "/consent/links/return?code=unknown", "[role=alert]")
    context.close()

    assert {name: found for name, found in walk.violations.items() if found} == {}
    assert len(walk.violations) == 12
