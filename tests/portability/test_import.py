"""Bring your history here: what is refused, with the reason, and nothing imported.

The exporting operator is this one, served live so that its JWKS can be fetched over
loopback; the importing resident is Eero, as if at another operator (the move between
two separate operators is tests/portability/test_moving.py).
"""

import base64
import json
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ledger import jws, keys, merkle
from ledger.checkpoints import CHECKPOINT_TYP
from portability.export import EXPORT_TYP
from portability.imports import RECEIPT_TYP
from portability.models import ImportedHistory
from portability.views import IMPORT_CODE
from tests.portability.history import history, sha256
from tests.servers import Answer, WebhookReceiver

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


# -- an export from a hostile operator ---------------------------------------------------
# One that signs whatever it likes with keys it publishes itself: everything in its file
# is its choice, so what passes the signature must still be bounded before it is stored,
# and the fetch of its keys stays under the URL guard's rules. It is a loopback server
# that serves this test's own public keys at any path; its exports are Aino's, changed
# and signed again.


@pytest.fixture
def hostile(operator, settings):
    """A server that answers every request with this test's JWKS (or what it is told)."""
    server = WebhookReceiver().start()
    settings.OMADATA_ALLOWED_PORTS = (*settings.OMADATA_ALLOWED_PORTS, server.port)
    yield server
    server.stop()


def _jwks_answer() -> Answer:
    return Answer(
        body=json.dumps(keys.jwks()).encode(), headers={"Content-Type": "application/json"}
    )


def _forged(data: bytes, operator_url: str, change=lambda export: None) -> bytes:
    """Aino's export, claimed by `operator_url` and signed again with this test's key."""
    document = json.loads(data)
    export = document["export"]
    export["operator"] = operator_url
    export["receipts"] = []
    checkpoint = jws.payload_of(export["checkpoint"]["jws"])
    checkpoint["operator"] = operator_url
    export["checkpoint"]["jws"] = jws.sign(checkpoint, typ=CHECKPOINT_TYP)
    change(export)
    payload = jws.payload_of(document["signature"])
    payload["operator"], payload["sha256"] = operator_url, sha256(export)
    document["signature"] = jws.sign(payload, typ=EXPORT_TYP)
    return json.dumps(document).encode()


def _refused(response, code_text: str = "") -> None:
    assert response.status_code == 400, response.status_code
    assert code_text in response.content.decode()
    assert not ImportedHistory.objects.exists()


def test_a_forged_export_from_a_hostile_operator_is_imported_when_well_formed(
    importer, exported, hostile
):
    """The control: the forgery helper makes a file the importer takes."""
    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    assert response.status_code == 302
    assert ImportedHistory.objects.get().operator == f"http://127.0.0.1:{hostile.port}"


def test_a_deeply_nested_jwks_answer_is_refused(importer, exported, hostile):
    hostile.answers = [Answer(body=b"[" * 200_000)]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    _refused(response, "does not publish")


def test_a_jwks_answer_over_the_cap_is_refused(importer, exported, hostile):
    hostile.answers = [Answer(flood=1024 * 1024)]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    _refused(response, "could not be asked for its keys")


def test_a_slow_jwks_answer_is_refused_at_the_deadline(importer, exported, hostile, settings):
    settings.OMADATA_OUTBOUND_TIMEOUT = 0.5
    hostile.answers = [Answer(stall=3.0)]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    _refused(response, "could not be asked for its keys")


def test_a_redirect_from_the_operator_is_not_followed(importer, exported, hostile, operator):
    hostile.answers = [
        Answer(status=302, body=b"", headers={"Location": f"{operator}/.well-known/jwks.json"})
    ]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    _refused(response)
    assert len(hostile.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "http://169.254.169.254/latest/meta-data?x=",
        "http://[::1]",
        "http://0.0.0.0",
        "file:///etc/passwd?",
        "gopher://127.0.0.1:6379/",
        "http://user:secret@example.invalid",
    ],
)
def test_an_operator_url_the_guard_refuses_is_not_fetched(importer, exported, settings, url):
    settings.OMADATA_ALLOW_LOOPBACK_URLS = False
    response = _upload(importer, _forged(exported, url))
    _refused(response)


def test_a_loopback_operator_is_refused_when_loopback_is_not_allowed(
    importer, exported, hostile, settings
):
    settings.OMADATA_ALLOW_LOOPBACK_URLS = False
    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}"))
    _refused(response, "could not be asked for its keys")
    assert hostile.requests == []


def test_an_export_time_past_the_years_a_database_holds_is_refused(importer, exported, hostile):
    def far_future(export):
        export["created_at"] = "9999-12-31T23:59:59-14:00"

    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}", far_future))
    _refused(response, "malformed")


def test_a_consent_time_past_the_years_a_database_holds_is_refused(importer, exported, hostile):
    def far_future(export):
        export["consents"][0]["valid_until"] = "9999-12-31T23:59:59-14:00"

    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, f"http://127.0.0.1:{hostile.port}", far_future))
    _refused(response, "malformed")


def test_a_receipt_index_past_a_bigint_is_refused(importer, exported, hostile):
    operator_url = f"http://127.0.0.1:{hostile.port}"
    index = 2**70  # the last leaf of a tree of 2**70 + 1: a proof of one node
    receipt_id = str(uuid.uuid4())
    token = jws.sign(
        {"consentReceiptID": receipt_id, "omadata": {"operator": operator_url}}, typ=RECEIPT_TYP
    )
    sibling = b"\x01" * merkle.HASH_SIZE
    root = merkle.node_hash(sibling, merkle.leaf_hash(token.encode()))

    def huge_index(export):
        export["checkpoint"]["jws"] = jws.sign(
            {"operator": operator_url, "tree_size": index + 1,
             "root": base64.b64encode(root).decode()},
            typ=CHECKPOINT_TYP,
        )  # fmt: skip
        export["receipts"] = [
            {"id": receipt_id, "event": "consent.granted", "consent": None,
             "log_index": index, "jws": token, "inclusion": [base64.b64encode(sibling).decode()]}
        ]  # fmt: skip

    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, operator_url, huge_index))
    _refused(response)


def test_an_operator_url_longer_than_the_column_is_refused(importer, exported, hostile):
    operator_url = f"http://127.0.0.1:{hostile.port}/?pad={'a' * 2100}"
    hostile.answers = [_jwks_answer()]
    response = _upload(importer, _forged(exported, operator_url))
    _refused(response)


def test_an_account_id_that_is_not_a_string_is_refused(importer, exported, hostile):
    def account_object(export):
        export["account"]["id"] = {"a": [1, 2]}

    operator_url = f"http://127.0.0.1:{hostile.port}"
    document = json.loads(_forged(exported, operator_url, account_object))
    payload = jws.payload_of(document["signature"])
    payload["account"] = {"a": [1, 2]}
    document["signature"] = jws.sign(payload, typ=EXPORT_TYP)
    hostile.answers = [_jwks_answer()]
    response = _upload(importer, json.dumps(document).encode())
    _refused(response)
