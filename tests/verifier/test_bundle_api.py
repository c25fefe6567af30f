"""The audit bundle from the API, for auditors' clients: the installed verifier passes it."""

import pytest
from rest_framework.test import APIClient

from ledger.log import log_integrate
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_api() -> APIClient:
    api = APIClient()
    token = factories.auditor_token(factories.make_auditor())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_a_downloaded_bundle_verifies(log, auditor_api, verify, tmp_path):
    *_earlier, last = log.checkpoint_sizes

    answer = auditor_api.get("/api/v1/audit/bundle", {"start": 0, "end": last})

    assert answer.status_code == 200
    assert answer["Content-Disposition"] == (
        f'attachment; filename="omadata-audit-0-{last - 1}.json"'
    )
    path = tmp_path / "bundle.json"
    path.write_bytes(answer.content)
    result = verify("bundle", path)
    assert result.status == 0, result.output
    assert "OK: every check passed" in result.out


def test_a_range_no_checkpoint_covers_yet_is_409(log, auditor_api):
    factories.link_resident(factories.make_user("late"), log.receipts[0].link.service)
    log_integrate()  # in the tree, not yet under a checkpoint

    answer = auditor_api.get("/api/v1/audit/bundle", {"start": 0, "end": len(log.receipts) + 1})

    assert answer.status_code == 409
    assert answer.json()["code"] == "no_checkpoint"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"start": 0, "end": 10_001}, "invalid_range"),
        ({"start": 3, "end": 3}, "invalid_range"),
        ({"start": 0, "end": 999}, "past_the_log"),
        ({"start": 0, "end": 2, "gzip": "1"}, "unknown_field"),
    ],
)
def test_bad_bundle_ranges_are_400_naming_why(log, auditor_api, query, code):
    answer = auditor_api.get("/api/v1/audit/bundle", query)

    assert answer.status_code == 400
    assert code in [field["code"] for field in answer.json()["fields"]]


def test_a_providers_client_gets_no_bundle(log, source_provider):
    api = factories.api_as(source_provider, factories.ALL_PROVIDER_SCOPES)

    answer = api.get("/api/v1/audit/bundle", {"start": 0, "end": 2})

    assert answer.status_code == 403
