"""Moving to another operator: two operators side by side, and a resident moves between them.

The first operator is the test's live server; the second is its own gunicorn process with
its own database and signing keys (tests/portability/operators.py).
"""

import re
import sqlite3
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse

from ledger import jws, keys
from tests import factories
from tests.portability.history import history
from tests.portability.operators import csrf, second_operator


@pytest.fixture(scope="module")
def second_running(live_server, tmp_path_factory):
    """Started once for the module: migrating its database takes most of its start."""
    port = urlsplit(live_server.url).port
    with second_operator(tmp_path_factory.mktemp("second"), trusting_port=port) as operator:
        yield operator


@pytest.fixture
def second(second_running, live_operator, loopback_allowed):
    return second_running


def _import_code(browser, operator) -> tuple[str, str]:
    page = browser.get(f"{operator.url}/my/data/import", timeout=10).text
    return re.search(r"<code>([0-9A-F-]{19})</code>", page).group(1), csrf(page)


def _upload(browser, operator, token: str, data: bytes) -> requests.Response:
    return browser.post(
        f"{operator.url}/my/data/import", data={"csrfmiddlewaretoken": token},
        files={"export": ("export.json", data, "application/json")},
        headers={"Referer": f"{operator.url}/my/data/import"}, timeout=30, allow_redirects=False,
    )  # fmt: skip


def _imported(operator) -> list[str]:
    with sqlite3.connect(operator.database) as database:
        return [row[0] for row in database.execute("SELECT jws FROM portability_importedreceipt")]


def test_a_resident_moves_with_every_receipt_verifying_against_the_first_operator(
    second, client, aino, wellbeing, wearable
):
    history(aino, sink=wellbeing, source=wearable, consents=2, transfers=2)
    browser = second.login("aino", factories.PASSWORD)
    code, token = _import_code(browser, second)
    client.force_login(aino)
    export = b"".join(client.get(reverse("my-data-export"), {"code": code}).streaming_content)

    answer = _upload(browser, second, token, export)

    assert answer.status_code == 302, answer.text[:2000]
    page = browser.get(f"{second.url}/my/consents", timeout=10).text
    assert "Imported from" in page
    assert "is also here" in page  # the same sink and source are registered there
    first_keys = keys.published_keys()
    second_keys = requests.get(f"{second.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert not first_keys.keys() & {key["kid"] for key in second_keys}
    receipts = _imported(second)
    assert len(receipts) >= 9
    for receipt in receipts:
        jws.verify(receipt, typ="consent-receipt+jwt", trusted=first_keys)


def test_a_tampered_export_is_refused_and_nothing_imported(
    second, client, aino, wellbeing, wearable
):
    history(aino, sink=wellbeing, source=wearable)
    browser = second.login("aino", factories.PASSWORD)
    code, token = _import_code(browser, second)
    client.force_login(aino)
    export = b"".join(client.get(reverse("my-data-export"), {"code": code}).streaming_content)
    tampered = export.replace(b'"byte_count":12', b'"byte_count":13', 1)
    before = _imported(second)

    answer = _upload(browser, second, token, tampered)

    assert answer.status_code == 400
    assert "changed after its operator signed it" in answer.text
    assert _imported(second) == before
