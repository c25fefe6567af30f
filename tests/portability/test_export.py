"""Download my data: one signed file with the resident's whole history at this operator."""

import json

import pytest
from django.urls import reverse
from omadata_verifier import export as verifier_export
from omadata_verifier.cli import main as verify_main

from ledger import jws
from portability.export import EXPORT_TYP, account_id
from tests.portability.history import history, read, sha256


@pytest.fixture
def exported(client, aino, wellbeing, wearable):
    history(aino, sink=wellbeing, source=wearable, consents=2, transfers=2)
    client.force_login(aino)
    return read(client.get(reverse("my-data-export")))


def test_export_states_the_account_links_consents_and_transfers(exported, aino, wellbeing):
    export = exported["export"]
    assert (export["format"], export["version"]) == ("omadata-resident-export", 1)
    assert export["account"]["username"] == "aino"
    assert export["account"]["id"] == account_id(aino)
    roles = {link["service"]["slug"]: link["roles"] for link in export["links"]}
    assert roles["wearable"] == ["source"]
    assert roles[wellbeing.slug] == ["sink"]
    assert len(export["consents"]) == 2
    consent = export["consents"][0]
    assert consent["sources"][0]["service"]["slug"] == "wearable"
    assert consent["sink"]["slug"] == wellbeing.slug
    assert {"purpose", "valid_until", "frequency", "notice_sha256", "language"} <= consent.keys()
    assert len(export["transfers"]) == 4
    part = export["transfers"][0]["parts"][0]
    assert (part["source"], part["byte_count"], part["sha256"]) == ("wearable", 12, "ab" * 32)


def test_export_is_signed_over_its_canonical_json(exported):
    payload = jws.verify(exported["signature"], typ=EXPORT_TYP)
    assert payload["sha256"] == sha256(exported["export"])


def test_every_receipt_has_an_inclusion_proof_under_the_checkpoint(exported):
    receipts = exported["export"]["receipts"]
    # Two links (source, sink), two grants (the second supersedes the first), four deliveries.
    assert sorted(r["event"] for r in receipts) == [
        "consent.granted", "consent.granted", "consent.withdrawn", "link.created",
        "link.created", *["transfer.delivered"] * 4,
    ]  # fmt: skip
    assert all(receipt["inclusion"] is not None for receipt in receipts)
    report = verifier_export.check(exported)
    assert report.ok, report.problems
    assert report.receipts == 9


def test_another_residents_history_is_not_in_the_export(client, aino, eero, wellbeing, wearable):
    history(eero, sink=wellbeing, source=wearable)
    client.force_login(aino)
    export = read(client.get(reverse("my-data-export")))["export"]
    assert export["consents"] == []
    assert export["receipts"] == []
    assert export["transfers"] == []


def test_export_needs_a_login(client):
    response = client.get(reverse("my-data-export"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_malformed_import_code_is_refused(client, aino):
    client.force_login(aino)
    response = client.get(reverse("my-data-export"), {"code": "not a code"})
    assert response.status_code == 400


def test_the_verifier_checks_an_export_file(exported, tmp_path, capsys):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    assert verify_main(["export", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_the_verifier_names_a_changed_export(exported, tmp_path, capsys):
    exported["export"]["transfers"][0]["parts"][0]["byte_count"] = 13
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    assert verify_main(["export", str(path)]) == 1
    assert "changed after it was signed" in capsys.readouterr().err


def test_the_verifier_names_a_receipt_out_of_the_log(exported, tmp_path, capsys):
    exported["export"]["receipts"][0]["inclusion"] = exported["export"]["receipts"][1]["inclusion"]
    report = verifier_export.check(exported)
    assert any("inclusion proof" in problem.reason for problem in report.problems)
