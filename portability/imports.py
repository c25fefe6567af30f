"""Importing a resident's export from another operator: check everything, then keep it read-only.

Nothing in the file is taken on its word. The issuing operator's key history in the
file must be what that operator publishes at `<operator>/.well-known/jwks.json`
(fetched over the outbound client, under the URL guard's rules); the file's
signature, every receipt and the checkpoint must verify with those keys; every
receipt must be in the issuing operator's log under the signed checkpoint; and
the export must have been made for the resident importing it: it must carry the
one-time code this operator showed them (`recipient.code`, see docs/residents.md).
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from jwcrypto import jwk

from common import jsonlimits, outbound
from ledger import jws, merkle
from ledger.checkpoints import CHECKPOINT_TYP
from portability.export import EXPORT_TYP, FORMAT, VERSION
from portability.models import ImportedConsent, ImportedHistory, ImportedReceipt

if TYPE_CHECKING:
    from django.contrib.auth.models import User

RECEIPT_TYP = "consent-receipt+jwt"
MAX_JWKS_BYTES = 256 * 1024
# A log index and a tree size are stored in a BigIntegerField.
MAX_TREE_SIZE = 2**63 - 1
# The issuing operator's account id is stored in a column of this length.
MAX_ACCOUNT_LENGTH = 64


@dataclass(eq=False)
class ImportRefused(Exception):
    """Why an export is not imported; `code` is stable, `message` is shown to the resident."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def history_import(*, resident: "User", data: bytes, code: str) -> ImportedHistory:
    """Check the export `data` and import it into `resident`'s account, all or nothing.

    `code` is the one-time code this operator showed the resident for this import.
    Raises ImportRefused with the reason.
    """
    document = _parse(data)
    export = document["export"]
    # First, before anything is fetched: a file that is not this resident's is refused
    # without this operator asking anyone for keys on its word. The signature, checked
    # next, binds the code to the file.
    if (
        not code
        or not isinstance(export.get("recipient"), dict)
        or (export["recipient"].get("code") != code)
    ):
        raise ImportRefused(
            "not_for_you",
            _(
                "This export was not made for you here: it does not carry the code this page "
                "showed you. Download a new export with that code."
            ),
        )
    keys = _keys(export)
    digest = hashlib.sha256(jws.canonical_json(export)).hexdigest()
    _signature(document["signature"], export, keys, digest)
    _published(export["operator"], keys)
    root, size = _checkpoint(export, keys)
    receipts = [_receipt(item, export["operator"], keys, root, size) for item in export["receipts"]]
    return _store(resident=resident, document=document, digest=digest, receipts=receipts)


def _parse(data: bytes) -> dict[str, Any]:
    try:
        document = jsonlimits.loads(data, max_bytes=len(data) + 1)
    except jsonlimits.JSONRefused:
        raise ImportRefused(
            "not_json", _("The file is not a whole JSON document: it may be cut short.")
        ) from None
    export = document.get("export") if isinstance(document, dict) else None
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        raise ImportRefused("not_an_export", _("The file is not an Omadata export."))
    if export.get("version") != VERSION:
        raise ImportRefused(
            "unsupported_version",
            _("The export is of version %(version)s; this operator reads version %(ours)s.")
            % {"version": json.dumps(export.get("version"))[:20], "ours": VERSION},
        )
    shapes = {"operator": str, "receipts": list, "consents": list, "keys": list,
              "checkpoint": dict, "account": dict, "transfers": list, "links": list}  # fmt: skip
    wrong = [name for name, kind in shapes.items() if not isinstance(export.get(name), kind)]
    account = export.get("account")
    if isinstance(account, dict) and not _account_id(account.get("id")):
        wrong.append("account")
    if wrong or not isinstance(document.get("signature"), str):
        raise ImportRefused(
            "malformed",
            _("The export is incomplete or malformed: %(fields)s.")
            % {"fields": ", ".join(wrong) or "signature"},
        )
    return document


def _account_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ACCOUNT_LENGTH


def _keys(export: dict[str, Any]) -> dict[str, jwk.JWK]:
    keys = {}
    for item in export["keys"]:
        try:
            keys[item["kid"]] = jwk.JWK(**item["jwk"])
        except (KeyError, TypeError, ValueError, jwk.InvalidJWKValue):
            raise ImportRefused(
                "malformed", _("The export's key history holds something that is not a key.")
            ) from None
    return keys


def _signature(token: str, export: dict[str, Any], keys: dict[str, jwk.JWK], digest: str) -> None:
    try:
        payload = jws.verify(token, typ=EXPORT_TYP, trusted=keys)
    except jws.JWSError:
        raise ImportRefused(
            "bad_signature",
            _("The export's signature does not verify with its issuing operator's keys."),
        ) from None
    if payload.get("sha256") != digest:
        raise ImportRefused("changed", _("The export was changed after its operator signed it."))
    if payload.get("operator") != export["operator"] or payload.get("account") != export[
        "account"
    ].get("id"):
        raise ImportRefused(
            "changed", _("The export's signature is for another operator or account.")
        )


def _published(operator: str, keys: dict[str, jwk.JWK]) -> None:
    """The key history in the file must be keys the operator it names publishes."""
    unknown = ImportRefused(
        "unknown_operator",
        _("The export is not signed by the operator it names: %(operator)s does not publish "
          "the keys it was signed with.") % {"operator": operator[:200]},
    )  # fmt: skip
    try:
        answer = outbound.request(
            method="GET", url=f"{operator.rstrip('/')}/.well-known/jwks.json",
            max_bytes=MAX_JWKS_BYTES,
        )  # fmt: skip
        if answer.status != 200:
            raise unknown
        published = jsonlimits.loads(answer.body, max_bytes=MAX_JWKS_BYTES)
        by_kid = {key["kid"]: key for key in published["keys"]}
    except outbound.OutboundError as error:
        raise ImportRefused(
            "operator_unreachable",
            _("The operator that issued the export could not be asked for its keys: %(why)s")
            % {"why": error.message},
        ) from None
    except (ValueError, KeyError, TypeError):
        raise unknown from None
    for kid, key in keys.items():
        public = key.export_public(as_dict=True)
        theirs = by_kid.get(kid)
        if not isinstance(theirs, dict) or any(
            theirs.get(name) != public.get(name) for name in ("kty", "crv", "x", "y")
        ):
            raise unknown


def _checkpoint(export: dict[str, Any], keys: dict[str, jwk.JWK]) -> tuple[bytes, int]:
    checkpoint = export["checkpoint"]
    try:
        payload = jws.verify(checkpoint.get("jws"), typ=CHECKPOINT_TYP, trusted=keys)
        root, size = _hash(payload["root"]), payload["tree_size"]
    except (jws.JWSError, KeyError, ValueError):
        raise ImportRefused(
            "bad_checkpoint", _("The export's checkpoint does not verify.")
        ) from None
    if payload.get("operator") != export["operator"] or not _tree_size(size):
        raise ImportRefused("bad_checkpoint", _("The export's checkpoint does not verify."))
    return root, size


def _tree_size(value: object) -> bool:
    # Every index proved under the checkpoint is below its size, so this bounds them too.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TREE_SIZE


def _moment(text: object) -> datetime:
    """An ISO 8601 time with its offset that a database holds; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("not a time")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError("a time without its offset")
    try:
        # Within a day of the ends of Python's years, the time in UTC is past them.
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
    if not MINYEAR < moment.year < MAXYEAR:
        raise ValueError("out of range")
    return moment


def _hash(text: object) -> bytes:
    """A base64 SHA-256 hash, as checkpoints and proofs write them; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("not base64")
    try:
        digest = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if len(digest) != merkle.HASH_SIZE:
        raise ValueError("not a hash")
    return digest


def _receipt(
    item: Any, operator: str, keys: dict[str, jwk.JWK], root: bytes, size: int
) -> dict[str, Any]:
    name = str(item.get("id"))[:40] if isinstance(item, dict) else "?"
    refused = ImportRefused(
        "bad_receipt",
        _("Receipt %(id)s does not verify with its issuing operator's keys and log.")
        % {"id": name},
    )
    try:
        payload = jws.verify(item["jws"], typ=RECEIPT_TYP, trusted=keys)
        proof = [_hash(node) for node in item["inclusion"]]
        merkle.verify_inclusion(
            leaf_hash=merkle.leaf_hash(item["jws"].encode()), index=item["log_index"],
            size=size, proof=proof, root=root,
        )  # fmt: skip
    except (jws.JWSError, KeyError, TypeError, ValueError, merkle.ProofError):
        raise refused from None
    omadata = payload.get("omadata")
    if payload.get("consentReceiptID") != item["id"] or not isinstance(omadata, dict):
        raise refused
    if omadata.get("operator") != operator:
        raise refused
    return item


def _store(
    *, resident: "User", document: dict[str, Any], digest: str, receipts: list[dict[str, Any]]
) -> ImportedHistory:
    export = document["export"]
    account = export["account"].get("id")
    existing = ImportedHistory.objects.filter(operator=export["operator"], account=account).first()
    if existing is not None:
        raise _already(existing, resident)
    try:
        with transaction.atomic():
            history = ImportedHistory.objects.create(
                resident=resident, operator=export["operator"], account=str(account)[:64],
                exported_at=_moment(export["created_at"]),
                sha256=digest, document=document,
            )  # fmt: skip
            ImportedConsent.objects.bulk_create(
                _consent(history, item) for item in export["consents"]
            )
            ImportedReceipt.objects.bulk_create(
                ImportedReceipt(
                    history=history,
                    original_id=item["id"],
                    event=str(item.get("event"))[:40],
                    consent_id=item.get("consent"),
                    log_index=item["log_index"],
                    jws=item["jws"],
                    inclusion=item["inclusion"],
                )
                for item in receipts
            )
    except IntegrityError:
        raced = ImportedHistory.objects.filter(operator=export["operator"], account=account)
        raise _already(raced.first(), resident) from None
    except (KeyError, TypeError, ValueError, AttributeError, ValidationError):
        raise ImportRefused(
            "malformed", _("The export is incomplete or malformed: consents.")
        ) from None
    return history


def _already(existing: ImportedHistory | None, resident: "User") -> ImportRefused:
    if existing is not None and existing.resident_id == resident.pk:
        return ImportRefused("already_imported", _("You have imported this history already."))
    return ImportRefused(
        "imported_elsewhere",
        _("This history has been imported into another account here already."),
    )


def _consent(history: ImportedHistory, item: dict[str, Any]) -> ImportedConsent:
    sink = item["sink"]
    return ImportedConsent(
        history=history,
        original_id=item["id"],
        status=str(item["status"])[:20],
        sink_slug=str(sink["slug"])[:60],
        sink_business_id=str(sink["organisation"]["business_id"])[:20],
        sink_name=sink["name"],
        sources=[
            {
                "slug": part["service"]["slug"],
                "business_id": part["service"]["organisation"]["business_id"],
                "name": part["service"]["name"],
                "data_types": part["data_types"],
            }
            for part in item["sources"]
        ],
        valid_until=_moment(item["valid_until"]),
        created_at=_moment(item["created_at"]),
        terms={
            name: item.get(name)
            for name in ("purpose", "purpose_category", "frequency", "data_types", "language")
        },
    )
