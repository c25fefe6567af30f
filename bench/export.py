"""A resident's export of 1,000 consents and 10,000 transfers, beside writing the same rows.

The resident has linked a source and given one consent through the service layer
(so real receipts are in the log); 999 more consents and 10,000 delivered transfers
are written in bulk. The clock runs over the whole streamed file as the page sends
it: the checkpoint, the canonical JSON, the receipts' inclusion proofs, the
signature. The floor reads the same consent, source, transfer and part rows with
the ORM as plain values, every column, and writes them as one JSON text: what any
export of them must at least do, without signatures, proofs or streaming.
The issue asks only that the export be bounded and streamed; the aim is that the
file cost no more than three times that.

Run with `make bench` (every benchmark) or as part of bench/run.py.
"""

import json
import time


def bench_export() -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from bench.receipts import _parties
    from bench.run import row
    from consent import services
    from consent.models import Consent, ConsentSource
    from relay.models import Transfer, TransferPart
    from tests.portability.history import bulk_history

    source, sink, spec = _parties()
    resident = get_user_model().objects.create_user("export-bench-resident")
    begun = services.link_start(resident=resident, service=source, return_to="http://x/")
    code = services.link_confirm(service=source, token=begun.token, reference="r").code
    services.link_return(resident=resident, code=code, started={begun.attempt})
    consent = services.consent_grant(
        request=services.consent_request_create(sink=sink, spec=spec),
        resident=resident, language="fi", notice_text="notice",
    )  # fmt: skip
    bulk_history(consent, consents=999, transfers=10_000)
    client = Client()
    client.force_login(resident)
    started = time.perf_counter()
    size = sum(map(len, client.get(reverse("my-data-export")).streaming_content))
    export = time.perf_counter() - started
    started = time.perf_counter()
    rows = {
        "consents": list(Consent.objects.filter(resident=resident).values()),
        "sources": list(ConsentSource.objects.filter(consent__resident=resident).values()),
        "transfers": list(Transfer.objects.filter(consent__resident=resident).values()),
        "parts": list(TransferPart.objects.filter(transfer__consent__resident=resident).values()),
    }
    floor_size = len(json.dumps(rows, default=str).encode())
    floor = time.perf_counter() - started
    row(
        "export of 1,000 consents and 10,000 transfers (streamed, signed)",
        f"{export:.2f} s ({size / 1e6:.1f} MB)",
        f"the same rows read as plain values and written as JSON: {floor:.2f} s "
        f"({floor_size / 1e6:.1f} MB)",
        export / floor, most="3.0",
    )  # fmt: skip
