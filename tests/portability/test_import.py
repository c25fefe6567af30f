"""Bring your history here: what is refused, with the reason, and nothing imported.

The exporting operator is this one, served live so that its JWKS can be fetched over
loopback; the importing resident is Eero, as if at another operator (the move between
two separate operators is tests/portability/test_moving.py).
"""

import json
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ledger import jws, keys
from portability.export import EXPORT_TYP
from portability.models import ImportedHistory
from portability.views import IMPORT_CODE
from tests.portability.history import history, sha256

# The refusals are read in English.
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def operator(live_operator, loopback_allowed, settings):
    settings.OMADATA_ALLOWED_PORTS = (urlsplit(live_operator).port,)
    return live_operator


@pytest.fixture
def importer(eero, operator):
    """Eero's browser on the import page: it has shown him his code."""
    browser = Client(headers=ENGLISH)
    browser.force_login(eero)
    browser.get(reverse("my-data-import"))
    return browser


def _export(client, resident, code: str) -> bytes:
    client.force_login(resident)
    return b"".join(client.get(reverse("my-data-export"), {"code": code}).streaming_content)


@pytest.fixture
def exported(client, aino, importer, wellbeing, wearable) -> bytes:
    """Aino's export, made with the code Eero's import page shows."""
    history(aino, sink=wellbeing, source=wearable)
    return _export(client, aino, importer.session[IMPORT_CODE])


def _upload(browser, data: bytes):
    upload = SimpleUploadedFile("export.json", data, content_type="application/json")
    return browser.post(reverse("my-data-import"), {"export": upload})


def _resigned(data: bytes, change) -> bytes:
    """The export changed by `change`, and signed again with this operator's own key."""
    document = json.loads(data)
    change(document["export"])
    payload = jws.payload_of(document["signature"])
    payload["sha256"] = sha256(document["export"])
    document["signature"] = jws.sign(payload, typ=EXPORT_TYP)
    return json.dumps(document).encode()


def test_an_export_made_with_the_residents_code_is_imported(importer, exported):
    response = _upload(importer, exported)
    assert response.status_code == 302
    history_ = ImportedHistory.objects.get()
    assert history_.consents.count() == 1
    assert history_.receipts.count() == 4


def test_the_import_page_lists_the_imported_history_on_my_consents(importer, exported):
    _upload(importer, exported)
    page = importer.get(reverse("my-consents")).content.decode()
    assert "Imported from" in page


def test_my_consents_names_an_imported_consents_status_in_the_readers_language(importer, exported):
    _upload(importer, exported)
    page = importer.get(reverse("my-consents"), headers={"Accept-Language": "fi"})
    imported = page.content.decode().split("Tuotu operaattorilta", 1)[1]
    assert "— voimassa" in imported
    assert "active" not in imported


def test_a_refused_upload_points_the_file_field_to_the_reason(importer):
    upload = SimpleUploadedFile("export.json", b"{", content_type="application/json")
    page = importer.post(reverse("my-data-import"), {"export": upload}).content.decode()
    assert 'id="import-error"' in page
    assert 'aria-invalid="true" aria-describedby="import-error"' in page


def test_an_export_changed_by_one_byte_is_refused(importer, exported):
    changed = exported.replace(b'"byte_count":12', b'"byte_count":13', 1)
    response = _upload(importer, changed)
    assert response.status_code == 400
    assert "changed after its operator signed it" in response.content.decode()
    assert not ImportedHistory.objects.exists()


def test_a_truncated_export_is_refused(importer, exported):
    response = _upload(importer, exported[: len(exported) // 2])
    assert response.status_code == 400
    assert "cut short" in response.content.decode()
    assert not ImportedHistory.objects.exists()


def test_an_export_signed_by_an_unknown_operator_is_refused(importer, exported):
    def claim_another_key(export):
        export["keys"][0]["jwk"] = keys.new_key().export_public(as_dict=True)

    response = _upload(importer, _resigned(exported, claim_another_key))
    assert response.status_code == 400
    assert not ImportedHistory.objects.exists()


def test_an_export_naming_an_operator_that_does_not_publish_its_keys_is_refused(
    importer, client, aino, wellbeing, wearable, settings
):
    history(aino, sink=wellbeing, source=wearable)
    settings.BASE_URL = "https://operator.example.fi"  # not reachable from here
    exported = _export(client, aino, importer.session[IMPORT_CODE])
    response = _upload(importer, exported)
    assert response.status_code == 400
    assert not ImportedHistory.objects.exists()


def test_an_export_made_for_another_resident_is_refused(
    importer, client, aino, wellbeing, wearable
):
    history(aino, sink=wellbeing, source=wearable)
    replayed = _export(client, aino, "ABCD-1234-ABCD-1234")  # another import page's code
    response = _upload(importer, replayed)
    assert response.status_code == 400
    assert "was not made for you here" in response.content.decode()
    assert not ImportedHistory.objects.exists()


def test_an_export_of_an_unsupported_version_is_refused(importer, exported):
    def version_2(export):
        export["version"] = 2

    response = _upload(importer, _resigned(exported, version_2))
    assert response.status_code == 400
    assert "version 2" in response.content.decode()
    assert not ImportedHistory.objects.exists()


def test_an_account_elsewhere_is_imported_into_one_account_here(importer, exported, aino):
    _upload(importer, exported)
    other = Client(headers=ENGLISH)
    other.force_login(aino)
    other.get(reverse("my-data-import"))
    again = _export(Client(), aino, other.session[IMPORT_CODE])  # with the second page's code

    response = _upload(other, again)

    assert response.status_code == 400
    assert "imported into another account here already" in response.content.decode()
    assert ImportedHistory.objects.get().resident.username == "eero"


def test_an_upload_over_the_limit_is_refused_with_413(importer, settings):
    settings.OMADATA_IMPORT_MAX_BYTES = 2048
    response = _upload(importer, b"x" * 4096)
    assert response.status_code == 413
    assert not ImportedHistory.objects.exists()


def test_an_upload_without_a_csrf_token_is_refused(eero, exported):
    browser = Client(enforce_csrf_checks=True, headers=ENGLISH)
    browser.force_login(eero)
    response = _upload(browser, exported)
    assert response.status_code == 403
    assert not ImportedHistory.objects.exists()
