"""Receipts issued per second through the service layer, beside raw ES256 signing.

Each consent grant signs one receipt and appends it to the log (plus the link
and notification work a real grant does). The floor is jwcrypto signing the
same receipt payload with the same key in a loop, measured in the same run.
"""

import time
from datetime import timedelta


def bench_receipts(grants: int = 300) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from jwcrypto import jws as raw

    from bench.relay import approved_service
    from consent import services
    from consent.models import Receipt
    from ledger import keys
    from ledger.jws import canonical_json
    from registry.models import DataType

    steps = DataType.objects.get_or_create(
        key="wellbeing.steps", defaults={"title_fi": "a", "title_sv": "a", "title_en": "a"}
    )[0]
    staff = get_user_model().objects.create_user("receipt-bench-staff", is_staff=True)
    source = approved_service(staff, "receipt-source", "1572860-0", {"source": {
        "fetch_url": "http://127.0.0.1:9/f", "link_url": "http://127.0.0.1:9/l",
        "data_types": ["wellbeing.steps"]}})  # fmt: skip
    sink = approved_service(staff, "receipt-sink", "0201256-6", {"sink": {
        "delivery_url": "http://127.0.0.1:9/d", "data_types": ["wellbeing.steps"]}})  # fmt: skip
    spec = {
        "source": source.id, "data_types": [steps.key],
        "purpose": {"fi": "p", "sv": "p", "en": "p"}, "purpose_category": "wellbeing",
        "valid_until": timezone.now() + timedelta(days=30),
        "frequency": {"kind": "one_off"}, "return_url": "http://127.0.0.1:9/back",
    }  # fmt: skip
    residents = [get_user_model().objects.create_user(f"r{n}") for n in range(grants)]
    for resident in residents:
        begun = services.link_start(resident=resident, service=source, return_to="http://x/")
        code = services.link_confirm(service=source, token=begun.token, reference="r").code
        services.link_return(resident=resident, code=code, started={begun.attempt})
    requests = [services.consent_request_create(sink=sink, spec=spec) for _ in residents]

    before = Receipt.objects.count()
    started = time.perf_counter()
    for request, resident in zip(requests, residents, strict=True):
        services.consent_grant(request=request, resident=resident, language="fi", notice_text="n")
    elapsed = time.perf_counter() - started
    # Each first grant to a sink also links the resident there: two receipts.
    through_service = (Receipt.objects.count() - before) / elapsed

    key = keys.active_key()
    payload = canonical_json(
        _payload_of(Receipt.objects.filter(event="consent.granted").select_related("entry").last())
    )
    header = {"alg": "ES256", "kid": key["kid"], "typ": "consent-receipt+jwt"}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 2.0:
        token = raw.JWS(payload)
        token.add_signature(key, alg="ES256", protected=header)
        token.serialize(compact=True)
        count += 1
    floor = count / (time.perf_counter() - started)
    print(
        f"receipts issued by consent_grant (sign, log append, outbox): {through_service:8.1f}/s "
        f"({grants / elapsed:.1f} grants/s)\n"
        f"floor, raw ES256 signing with jwcrypto of the same payload:  {floor:8.1f}/s\n"
        f"ratio: {through_service / floor:.2f} (aim: at least 0.20 on SQLite)"
    )


def _payload_of(receipt) -> dict:
    from consent.receipts import receipt_verify

    return receipt_verify(receipt.jws)
