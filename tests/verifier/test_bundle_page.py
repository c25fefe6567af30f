"""The audit bundle from the audit pages: the installed verifier passes it."""

import pytest

from tests.factories import make_auditor

pytestmark = pytest.mark.django_db


def test_a_bundle_downloaded_from_the_pages_verifies(log, client, verify, tmp_path):
    *_earlier, last = log.checkpoint_sizes
    client.force_login(make_auditor())

    response = client.get("/audit/bundle", {"start": 0, "end": last})

    assert response.status_code == 200
    path = tmp_path / "bundle.json"
    path.write_bytes(response.content)
    result = verify("bundle", path)
    assert result.status == 0, result.output
    assert "OK: every check passed" in result.out
