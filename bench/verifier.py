"""The offline verifier checking a bundle of 100,000 receipts, beside raw ES256 verification.

The bundle is synthetic but shaped as the operator's: receipts with the payload
of a consent receipt (Kantara fields and the omadata object, chained per
consent), signed with ES256 by `cryptography` (the verifier's one library) under
two keys, one rotated out halfway; a checkpoint every 10,000 receipts with the
consistency proofs between them; the log's leaf hashes and the range proof made
by ledger/merkle.py, as the operator makes them. The clock runs over parsing the
bundle's JSON and `omadata_verifier.bundle.check`, as `omadata-verify bundle`
does. The floor is `cryptography` verifying the same receipts' signatures in a
loop, with the signing input and DER signature made beforehand, just before and
just after the verifier's run. Both count this process's CPU time, not the wall
clock: the machine's other work slows neither. The issue's aim is at least half
the floor's rate.

Run with `make bench` (every benchmark) or `python bench/verifier.py` (this one only).
"""

import base64
import hashlib
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "verifier")]

RECEIPTS = 100_000
CHECKPOINT_EVERY = 10_000
CHAIN = 4  # receipts per consent: granted, a delivery, paused, withdrawn
OPERATOR = "https://omadata.example.fi"
ECDSA = ec.ECDSA(hashes.SHA256())
EPOCH = 1_750_000_000


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Signer:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "EC", "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")), "y": b64url(numbers.y.to_bytes(32, "big")),
        }  # fmt: skip
        self.kid = b64url(hashlib.sha256(canonical(self.jwk)).digest())

    def sign(self, payload: dict, typ: str) -> str:
        header = b64url(canonical({"alg": "ES256", "kid": self.kid, "typ": typ}))
        signing_input = f"{header}.{b64url(canonical(payload))}"
        r, s = decode_dss_signature(self.private.sign(signing_input.encode(), ECDSA))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def receipt_payload(index: int, receipt_id: str, previous: str | None) -> dict:
    consent_id = str(uuid.UUID(int=index // CHAIN))
    purpose = {
        "purpose": "Liikuntaohjelma: päivittäiset askeleet hyvinvointipalveluun.",
        "purposeCategory": ["wellbeing"], "consentType": "EXPLICIT",
        "piiCategory": ["wellbeing.steps"], "primaryPurpose": True,
        "termination": "withdrawal by the resident, or 2026-01-01T00:00:00+00:00",
        "thirdPartyDisclosure": True, "thirdPartyName": "Askel Wearables Oy",
    }  # fmt: skip
    service = {"id": consent_id, "slug": "wellbeing", "organisation": "Espoon kaupunki"}
    return {
        "version": "KI-CR-v1.1.0", "jurisdiction": "FI", "consentTimestamp": EPOCH + index,
        "collectionMethod": "Omadata consent screen", "consentReceiptID": receipt_id,
        "language": "fi", "piiPrincipalId": f"pseudonym-{index // CHAIN}",
        "piiControllers": [{
            "piiController": "Espoon kaupunki", "contact": "wellbeing@espoo.example.fi",
            "email": "wellbeing@espoo.example.fi", "onBehalf": False,
            "piiControllerUrl": "https://wellbeing.espoo.example.fi/privacy",
        }],
        "policyUrl": "https://wellbeing.espoo.example.fi/privacy",
        "services": [{"service": "wellbeing", "purposes": [purpose]}],
        "sensitive": False, "spiCat": [],
        "omadata": {
            "event": "consent.granted", "consent_id": consent_id, "status": "active",
            "request_id": consent_id, "notice_sha256": "0" * 64,
            "sources": [{**service, "data_types": ["wellbeing.steps"]}],
            "sink": service, "data_types": ["wellbeing.steps"],
            "valid_until": "2026-01-01T00:00:00+00:00",
            "frequency": {"kind": "recurring", "limit": 1, "period": "day"},
            "previous_receipt_sha256": previous, "operator": OPERATOR,
        },
    }  # fmt: skip


def synthetic_bundle(count: int) -> tuple[dict, float]:
    """A bundle of `count` receipts, and the seconds its signing took."""
    from ledger import merkle

    old, new = Signer(), Signer()
    store = merkle.DictStore()
    receipts, checkpoints, last_of_chain = [], [], {}
    signing = 0.0
    for index in range(count):
        signer = old if index < count // 2 else new
        receipt_id = str(uuid.uuid4())
        chain = index // CHAIN
        payload = receipt_payload(index, receipt_id, last_of_chain.get(chain))
        started = time.process_time()
        token = signer.sign(payload, "consent-receipt+jwt")
        signing += time.process_time() - started
        last_of_chain[chain] = hashlib.sha256(token.encode()).hexdigest()
        store.put_many(merkle.append(store, size=index, data=token.encode()))
        receipts.append({
            "id": receipt_id, "log_index": index, "jws": token,
            "leaf_hash": base64.b64encode(store.nodes[(0, index)]).decode(),
        })  # fmt: skip
        if (index + 1) % CHECKPOINT_EVERY == 0 or index + 1 == count:
            root = base64.b64encode(merkle.root(store, size=index + 1)).decode()
            checkpoint = {"operator": OPERATOR, "tree_size": index + 1, "root": root,
                          "timestamp": EPOCH + index}  # fmt: skip
            checkpoints.append(
                {"tree_size": index + 1, "jws": signer.sign(checkpoint, "log-checkpoint+jwt")}
            )
    sizes = [c["tree_size"] for c in checkpoints]
    encode = lambda nodes: [base64.b64encode(n).decode() for n in nodes]  # noqa: E731
    bundle = {
        "format": "omadata-audit-bundle", "version": 1, "operator": OPERATOR,
        "created_at": iso(EPOCH + count), "range": {"start": 0, "end": count},
        "keys": [
            {"kid": old.kid, "jwk": old.jwk, "created_at": iso(EPOCH),
             "retired_at": iso(EPOCH + count // 2)},
            {"kid": new.kid, "jwk": new.jwk, "created_at": iso(EPOCH + count // 2),
             "retired_at": None},
        ],
        "checkpoints": checkpoints,
        "consistency": [
            {"first": a, "second": b,
             "proof": encode(merkle.consistency_proof(store, old_size=a, new_size=b))}
            for a, b in pairwise(sizes)
        ],
        "receipts": receipts,
        "inclusion": {
            "tree_size": count,
            "proof": encode(merkle.range_proof(store, start=0, end=count, size=count)),
        },
    }  # fmt: skip
    return bundle, signing


def raw_verification_rate(bundle: dict, *, seconds: float = 3.0) -> float:
    """Signatures per CPU second that `cryptography` verifies, given the key, input and DER."""
    from omadata_verifier import jose

    keys = {k["kid"]: jose.public_key(k["jwk"]) for k in bundle["keys"]}
    prepared = []
    for receipt in bundle["receipts"][:5000]:
        header, payload, signature = receipt["jws"].split(".")
        raw = jose.b64url_decode(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        kid = json.loads(jose.b64url_decode(header))["kid"]
        prepared.append((keys[kid], der, f"{header}.{payload}".encode()))
    count, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        key, der, signed = prepared[count % len(prepared)]
        key.verify(der, signed, ECDSA)
        count += 1
    return count / (time.process_time() - started)


def bench_verifier(count: int = RECEIPTS) -> list[str]:
    """Print the verifier's row; return the lines printed."""
    from omadata_verifier import bundle as verifier

    made, signing = synthetic_bundle(count)
    text = json.dumps(made)
    before = raw_verification_rate(made)
    del made
    started = time.process_time()
    parsed = json.loads(text)
    report = verifier.check(parsed)
    elapsed = time.process_time() - started
    assert report.ok, report.problems[:5]
    assert report.receipts == count
    # Measured on each side of the verifier's run: on a shared machine, either may be unlucky.
    floor = (before + raw_verification_rate(parsed)) / 2
    ratio = count / elapsed / floor
    lines = [
        f"[no database] offline verifier, a bundle of {count} receipts: "
        f"{count / elapsed:.1f} receipts/s ({elapsed:.1f} CPU s) | "
        f"floor, raw ES256 verification with cryptography: {floor:.1f}/s | "
        f"{ratio:.2f} (aim: at least 0.50)",
        f"    the bundle: {len(text) / 1e6:.0f} MB, {len(parsed['checkpoints'])} checkpoints, "
        f"signed in {signing:.0f} CPU s; both figures in CPU time",
    ]
    print(*lines, sep="\n", flush=True)
    return lines


if __name__ == "__main__":
    bench_verifier()
