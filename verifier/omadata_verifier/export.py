"""Checking a resident's export: one signed file with a resident's history at an operator.

The format is described in the operator's docs/auditors.md ("The resident's export").
The file's signature covers the SHA-256 of its `export` object's canonical JSON;
every receipt is checked against the key history and proved in the operator's log
under the file's signed checkpoint. As with a bundle, the key history is taken as
given here: compare it with the JWKS the operator publishes (an importing operator
does).
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omadata_verifier import bundle, jose, merkle
from omadata_verifier.values import b64_hash, b64_hashes, is_size, shown

FORMAT = "omadata-resident-export"
VERSION = 1


@dataclass
class ExportReport(bundle.Report):
    account: str = ""
    consents: int = 0
    transfers: int = 0
    unproved: int = 0

    def summary(self) -> Iterator[str]:
        yield f"operator:    {self.operator}"
        yield f"account:     {self.account}"
        yield f"keys:        {self.keys} in the key history, {self.retired_keys} retired"
        yield f"consents:    {self.consents}; transfers: {self.transfers}"
        yield f"receipts:    signatures verified: {self.receipts}"
        if self.covering is not None and self.ok:
            yield f"inclusion:   every receipt is in the tree of {self.covering} leaves"


def canonical(value: object) -> bytes:
    """The JSON form the operator signs: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check(document: object) -> ExportReport:
    """Check a parsed export file; raise bundle.BundleError if it is not one."""
    export, signature = _shape(document)
    report = ExportReport(operator=export["operator"], start=0, end=0)
    report.account = shown(export["account"].get("id"))
    report.consents, report.transfers = len(export["consents"]), len(export["transfers"])
    keys = bundle._keys(export["keys"], report)
    _signature(signature, export, keys, report)
    checkpoint = bundle._checkpoint(0, export["checkpoint"], export["operator"], keys, report)
    if checkpoint is not None:
        report.covering = checkpoint.size
    for n, item in enumerate(export["receipts"]):
        _receipt(n, item, export["operator"], keys, checkpoint, report)
    return report


def _shape(document: object) -> tuple[dict[str, Any], object]:
    export = document.get("export") if isinstance(document, dict) else None
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise bundle.BundleError(f'this is not an Omadata export (no "format": "{FORMAT}")')
    if export.get("version") != VERSION:
        raise bundle.BundleError(
            f"this is an export of version {shown(export.get('version'))}; "
            f"this verifier reads version {VERSION}"
        )
    kinds = {"operator": str, "account": dict, "keys": list, "checkpoint": dict,
             "receipts": list, "consents": list, "transfers": list}  # fmt: skip
    wrong = [name for name, kind in kinds.items() if not isinstance(export.get(name), kind)]
    if wrong:
        raise bundle.BundleError(f"the export's {', '.join(wrong)} missing or malformed")
    assert isinstance(document, dict)
    return export, document.get("signature")


def _signature(
    token: object, export: dict[str, Any], keys: dict[str, jose.Key], report: ExportReport
) -> None:
    try:
        _key, payload = jose.verify(token, typ=jose.EXPORT_TYP, keys=keys)
    except jose.Invalid as error:
        report.fail("signature", str(error))
        return
    if payload.get("sha256") != hashlib.sha256(canonical(export)).hexdigest():
        report.fail("signature", "the export was changed after it was signed (SHA-256)")
    if payload.get("operator") != export["operator"]:
        report.fail("signature", f"signed for operator {shown(payload.get('operator'))}")
    if payload.get("account") != export["account"].get("id"):
        report.fail("signature", f"signed for account {shown(payload.get('account'))}")


def _receipt(
    n: int,
    item: object,
    operator: str,
    keys: dict[str, jose.Key],
    checkpoint: Any,
    report: ExportReport,
) -> None:
    fields = item if isinstance(item, dict) else {}
    name = f"receipt {shown(fields.get('id'))}" if fields.get("id") else f"receipts[{n}]"
    token, index = fields.get("jws"), fields.get("log_index")
    try:
        _key, payload = jose.verify(token, typ=jose.RECEIPT_TYP, keys=keys)
    except jose.Invalid as error:
        report.fail(name, str(error))
        return
    report.receipts += 1
    omadata = payload.get("omadata")
    if payload.get("consentReceiptID") != fields.get("id"):
        report.fail(name, f"it states the id {shown(payload.get('consentReceiptID'))}")
    if not isinstance(omadata, dict) or omadata.get("operator") != operator:
        report.fail(name, "it is not a receipt of the export's operator")
    if checkpoint is None:
        return  # the checkpoint's problem is reported already
    if fields.get("inclusion") is None or not is_size(index):
        report.fail(name, "no inclusion proof under the export's checkpoint")
        return
    try:
        leaf = merkle.leaf_hash(str(token).encode())
        if fields.get("leaf_hash") is not None and b64_hash(fields["leaf_hash"]) != leaf:
            report.fail(name, "its leaf hash is not the hash of its JWS")
        merkle.verify_inclusion(
            leaf_hash=leaf, index=index, size=checkpoint.size,
            proof=b64_hashes(fields["inclusion"]), root=checkpoint.root,
        )  # fmt: skip
    except (ValueError, TypeError) as error:
        report.fail(name, f"its inclusion proof under checkpoint {checkpoint.size}: {error}")
