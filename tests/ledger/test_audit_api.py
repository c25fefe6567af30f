"""The audit API: receipts for auditors' clients; checkpoints, keys and proofs for anyone."""

import base64

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ledger import checkpoints, merkle
from ledger.log import log_pending, log_queue, log_size
from ledger.models import SigningKey
from registry import services as registry_services
from tests import factories
from tests.logs import append

pytestmark = pytest.mark.django_db


def _append(count: int) -> list:
    """`count` leaves more, "receipt <index>" each."""
    start = log_size() + log_pending()
    return append(*(f"receipt {start + n}" for n in range(count)))


@pytest.fixture
def auditor():
    return factories.make_auditor()


@pytest.fixture
def auditor_api(auditor) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.auditor_token(auditor)}")
    return api


def test_receipts_by_index_range_in_log_order(auditor_api):
    entries = _append(7)

    answer = auditor_api.get("/api/v1/audit/receipts", {"start": 2, "end": 5})

    assert answer.status_code == 200
    body = answer.json()
    assert (body["start"], body["end"], body["tree_size"]) == (2, 5, 7)
    assert [r["log_index"] for r in body["receipts"]] == [2, 3, 4]
    assert [r["id"] for r in body["receipts"]] == [str(e.id) for e in entries[2:5]]
    assert body["receipts"][0]["jws"] == "receipt 2"


def test_receipt_range_takes_three_queries_whatever_its_length(auditor_api):
    _append(300)
    auditor_api.get("/api/v1/audit/receipts", {"start": 0, "end": 1})  # the token, warmed

    with CaptureQueriesContext(connection) as small:
        auditor_api.get("/api/v1/audit/receipts", {"start": 0, "end": 2})
    with CaptureQueriesContext(connection) as large:
        auditor_api.get("/api/v1/audit/receipts", {"start": 0, "end": 300})

    assert len(large) == len(small)


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"start": 0, "end": 8}, "end", "past_the_log"),
        ({"start": 5, "end": 5}, "end", "invalid_range"),
        ({"start": 0, "end": 1001}, "end", "invalid_range"),
        ({"start": -1, "end": 2}, "start", "min_value"),
        ({"start": 0}, "end", "required"),
        ({"start": 0, "end": 2, "event": "consent.granted"}, "event", "unknown_field"),
        ({"start": "x", "end": 2}, "start", "invalid"),
    ],
)
def test_bad_receipt_ranges_are_refused_by_name(auditor_api, query, field, code):
    _append(7)

    answer = auditor_api.get("/api/v1/audit/receipts", query)

    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_failed"
    assert {"field": field, "code": code} in [
        {"field": f["field"], "code": f["code"]} for f in answer.json()["fields"]
    ]


def test_one_receipt_by_id(auditor_api):
    entry = _append(3)[1]

    answer = auditor_api.get(f"/api/v1/audit/receipts/{entry.id}")

    assert answer.status_code == 200
    assert answer.json()["log_index"] == 1
    assert answer.json()["jws"] == "receipt 1"


def test_receipts_need_the_audit_scope(db, source_provider):
    entry = _append(1)[0]
    provider_api = factories.api_as(source_provider, factories.ALL_PROVIDER_SCOPES)

    assert Client().get(f"/api/v1/audit/receipts/{entry.id}").status_code == 401
    refused = provider_api.get(f"/api/v1/audit/receipts/{entry.id}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"


def test_a_provider_client_cannot_get_the_audit_scope(source_provider):
    application, secret = registry_services.credential_create(provider=source_provider, name="x")

    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "audit:read"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_an_auditor_client_holds_the_audit_scope_alone(auditor):
    application, secret = registry_services.auditor_credential_create(
        auditor=auditor, name="tool", actor=None
    )

    default = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )
    more = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "audit:read consents:read"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )

    assert default.json()["scope"] == "audit:read"
    assert more.status_code == 400


def test_revoking_the_role_stops_the_auditors_tokens_at_once(auditor, staff):
    entry = _append(1)[0]
    token = factories.auditor_token(auditor)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(f"/api/v1/audit/receipts/{entry.id}").status_code == 200

    registry_services.auditor_revoke(user=auditor, actor=staff)

    assert api.get(f"/api/v1/audit/receipts/{entry.id}").status_code == 401


def test_a_token_outliving_its_owners_role_is_refused(auditor):
    """Should the group membership go some other way than auditor_revoke, the role is checked."""
    entry = _append(1)[0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.auditor_token(auditor)}")

    auditor.groups.clear()

    refused = api.get(f"/api/v1/audit/receipts/{entry.id}")
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_an_auditor"


def test_signing_on_demand_is_for_auditors_clients(auditor_api, source_provider):
    _append(3)
    provider_api = factories.api_as(source_provider, factories.ALL_PROVIDER_SCOPES)

    assert APIClient().post("/api/v1/audit/checkpoints").status_code == 401
    assert provider_api.post("/api/v1/audit/checkpoints").status_code == 403
    signed = auditor_api.post("/api/v1/audit/checkpoints")
    assert signed.status_code == 200
    assert signed.json()["tree_size"] == 3


def test_checkpoint_history_oldest_first_in_pages(client):
    for _ in range(5):
        _append(1)
        checkpoints.checkpoint_sign()

    first = client.get("/api/v1/audit/checkpoints", {"limit": 2}).json()
    second = client.get(first["next"]).json()
    last = client.get(second["next"]).json()

    assert [c["tree_size"] for c in first["checkpoints"]] == [1, 2]
    assert [c["tree_size"] for c in second["checkpoints"]] == [3, 4]
    assert [c["tree_size"] for c in last["checkpoints"]] == [5]
    assert last["next"] is None


def test_checkpoint_by_size_and_the_latest(client):
    _append(2)
    checkpoints.checkpoint_sign()
    _append(1)
    checkpoints.checkpoint_sign()

    assert client.get("/api/v1/audit/checkpoints/2").json()["tree_size"] == 2
    assert client.get("/api/v1/audit/checkpoints/latest").json()["tree_size"] == 3
    assert client.get("/api/v1/audit/checkpoints/1").status_code == 404


def test_checkpoint_history_refuses_unknown_parameters(client):
    answer = client.get("/api/v1/audit/checkpoints", {"since": 3})

    assert answer.status_code == 400
    assert answer.json()["fields"][0]["code"] == "unknown_field"


def test_key_history_names_every_key_with_its_period(client):
    _append(1)  # signs nothing, but the log's checkpoint does
    checkpoints.checkpoint_sign()
    old = SigningKey.objects.get()
    SigningKey.objects.create(
        kid="retired-one", public_jwk={"kty": "EC"}, retired_at=old.created_at
    )

    keys = client.get("/api/v1/audit/keys").json()["keys"]

    assert {k["kid"] for k in keys} == {old.kid, "retired-one"}
    retired = next(k for k in keys if k["kid"] == "retired-one")
    assert retired["retired_at"] is not None
    assert next(k for k in keys if k["kid"] == old.kid)["retired_at"] is None


def test_inclusion_proof_by_leaf_hash(client):
    entries = _append(6)
    checkpoints.checkpoint_sign()
    leaf = merkle.leaf_hash(entries[4].data.encode())

    answer = client.get("/api/v1/audit/inclusion", {"leaf_hash": base64.b64encode(leaf).decode()})

    assert answer.status_code == 200
    assert answer.json()["receipt"] == str(entries[4].id)
    assert answer.json()["log_index"] == 4
    assert answer.json()["tree_size"] == 6


@pytest.mark.parametrize("value", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_inclusion_by_leaf_hash_refuses_what_is_not_a_hash(client, value):
    answer = client.get("/api/v1/audit/inclusion", {"leaf_hash": value})

    assert answer.status_code == 400


def test_inclusion_by_an_unknown_leaf_hash_is_404(client):
    _append(2)
    checkpoints.checkpoint_sign()

    answer = client.get(
        "/api/v1/audit/inclusion", {"leaf_hash": base64.b64encode(b"\0" * 32).decode()}
    )

    assert answer.status_code == 404


def test_a_deactivated_auditors_client_gets_no_token(auditor):
    application, secret = registry_services.auditor_credential_create(
        auditor=auditor, name="tool", actor=None
    )
    auditor.is_active = False
    auditor.save()

    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_a_deactivated_providers_client_gets_no_token(source_provider):
    application, secret = registry_services.credential_create(provider=source_provider, name="x")
    source_provider.user.is_active = False
    source_provider.user.save()

    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )

    assert answer.status_code == 401


def test_a_client_whose_owner_left_both_roles_holds_no_scope(auditor):
    application, secret = registry_services.auditor_credential_create(
        auditor=auditor, name="tool", actor=None
    )
    auditor.groups.clear()

    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "services:read"},
        HTTP_AUTHORIZATION=factories.basic_auth(application.client_id, secret),
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_scope"


def test_a_checkpoint_row_whose_root_is_not_hex_is_shown_as_it_is(client):
    from tests.tampering import evidence_unguarded

    _append(2)
    checkpoint = checkpoints.checkpoint_sign()
    with evidence_unguarded():
        type(checkpoint).objects.filter(pk=checkpoint.pk).update(root="zz" * 32)

    answers = [
        client.get(path)
        for path in ("/api/v1/audit/checkpoints", "/api/v1/audit/checkpoints/latest")
    ]

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].json()["root"] == "zz" * 32


def test_a_queued_receipt_says_so_and_has_no_proof_until_it_is_integrated(auditor_api, client):
    _append(3)
    checkpoints.checkpoint_sign()
    with transaction.atomic():
        entry = log_queue(data="receipt 3")

    shown = auditor_api.get(f"/api/v1/audit/receipts/{entry.id}").json()
    proof = client.get(f"/api/v1/audit/receipts/{entry.id}/inclusion", {"tree_size": 3})

    assert (shown["log_index"], shown["integrated"]) == (None, False)
    assert proof.status_code == 409
    assert proof.json()["code"] == "not_integrated"
    assert "within 10 seconds" in proof.json()["message"]

    checkpoints.checkpoint_sign()  # integrates the queue first

    shown = auditor_api.get(f"/api/v1/audit/receipts/{entry.id}").json()
    proof = client.get(f"/api/v1/audit/receipts/{entry.id}/inclusion")
    assert (shown["log_index"], shown["integrated"]) == (3, True)
    assert (proof.status_code, proof.json()["log_index"], proof.json()["tree_size"]) == (200, 3, 4)


def test_the_discovery_document_states_the_maximum_merge_delay(client, settings):
    settings.OMADATA_LOG_MERGE_DELAY = 4.0

    assert client.get("/.well-known/mydata-operator").json()["log_max_merge_delay"] == 4.0


def test_the_scheduler_runs_the_sequencer_at_half_the_merge_delay(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["integrate-log"]

    assert entry["task"] == "ledger.log_integrate"
    assert entry["schedule"] == settings.OMADATA_LOG_MERGE_DELAY / 2
