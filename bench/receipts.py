"""Receipts issued per second through the service layer, beside raw ES256 signing.

Each consent grant signs its receipt and stores it in the log (plus the link and
notification work a real grant does). The floor is jwcrypto signing the same
receipt payload with the same key in a loop, measured in the same run.

Then the same grants from 1, 2 and 4 processes at once (multiprocessing, spawned:
each its own interpreter and database connection), all between one source and one
sink as a busy sink's are: the rows show whether throughput grows with processes.
Each process loads its requests and makes one grant before all start together; the
clock runs from the first process's start to the last one's end. On this 2-core
machine the database server shares the cores, so 2 processes cannot reach twice
one; the aim is 1.4 times. SQLite takes one writer at a time (IMMEDIATE
transactions), so there the figures are shown without an aim.
"""

import multiprocessing
import time
from datetime import timedelta

GRANTS = 150  # the single-process row
CONCURRENT_GRANTS = 80  # each concurrency row, shared out among its processes
PROCESSES = (1, 2, 4)


def _parties():
    """Staff, an approved source and sink, and the spec of a request between them."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bench.relay import approved_service
    from bench.run import _business_id
    from registry.models import DataType, Service

    steps = DataType.objects.get_or_create(
        key="wellbeing.steps", defaults={"title_fi": "a", "title_sv": "a", "title_en": "a"}
    )[0]
    source = Service.objects.filter(slug="receipt-source").first()
    if source is None:
        staff = get_user_model().objects.create_user("receipt-bench-staff", is_staff=True)
        source = approved_service(staff, "receipt-source", _business_id(800), {"source": {
            "fetch_url": "http://127.0.0.1:9/f", "link_url": "http://127.0.0.1:9/l",
            "data_types": ["wellbeing.steps"]}})  # fmt: skip
        approved_service(staff, "receipt-sink", _business_id(801), {"sink": {
            "delivery_url": "http://127.0.0.1:9/d",
            "data_types": ["wellbeing.steps"]}})  # fmt: skip
    sink = Service.objects.get(slug="receipt-sink")
    spec = {
        "source": source.id, "data_types": [steps.key],
        "purpose": {"fi": "p", "sv": "p", "en": "p"}, "purpose_category": "wellbeing",
        "valid_until": timezone.now() + timedelta(days=30),
        "frequency": {"kind": "one_off"}, "return_url": "http://127.0.0.1:9/back",
    }  # fmt: skip
    return source, sink, spec


def open_requests(count: int, prefix: str) -> list[tuple]:
    """`count` (request, resident) pairs: each resident linked at the source, not yet at the
    sink, with an open request of the sink's waiting for them."""
    from django.contrib.auth import get_user_model

    from consent import services

    source, sink, spec = _parties()
    pairs = []
    for n in range(count):
        resident = get_user_model().objects.create_user(f"{prefix}-{n}")
        begun = services.link_start(resident=resident, service=source, return_to="http://x/")
        code = services.link_confirm(service=source, token=begun.token, reference="r").code
        services.link_return(resident=resident, code=code, started={begun.attempt})
        pairs.append((services.consent_request_create(sink=sink, spec=spec), resident))
    return pairs


def bench_receipts(grants: int = GRANTS) -> None:
    from jwcrypto import jws as raw

    from bench.run import note, row
    from consent import services
    from consent.models import Receipt
    from ledger import keys
    from ledger.jws import canonical_json

    pairs = open_requests(grants, "r")
    before = Receipt.objects.count()
    started = time.perf_counter()
    for request, resident in pairs:
        services.consent_grant(request=request, resident=resident, language="fi", notice_text="n")
    elapsed = time.perf_counter() - started
    # Each first grant to a sink also links the resident there: two receipts.
    through_service = (Receipt.objects.count() - before) / elapsed

    key = keys.active_key()
    payload = canonical_json(
        _payload_of(Receipt.objects.filter(event="consent.granted").order_by("pk").last())
    )
    header = {"alg": "ES256", "kid": key["kid"], "typ": "consent-receipt+jwt"}
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < 2.0:
        token = raw.JWS(payload)
        token.add_signature(key, alg="ES256", protected=header)
        token.serialize(compact=True)
        count += 1
    floor = count / (time.perf_counter() - started)
    row(
        "receipts issued by consent_grant, 1 process",
        f"{through_service:.1f} receipts/s ({grants / elapsed:.1f} grants/s, 2 receipts each)",
        f"raw jwcrypto ES256 signing of the same payload: {floor:.1f}/s",
        through_service / floor, least="0.20",
    )  # fmt: skip
    note("a grant: the consent and its receipt, the sink's link and its receipt, the outbox")
    from ledger.log import log_integrate, log_pending

    queued = log_pending()
    started = time.perf_counter()
    log_integrate()
    integrated = queued / (time.perf_counter() - started)
    note(
        f"the log's sequencer then integrated the {queued} queued receipts at "
        f"{integrated:.0f}/s, {integrated / through_service:.0f} times the rate grants issue them"
    )


def _payload_of(receipt) -> dict:
    from consent.receipts import receipt_verify

    return receipt_verify(receipt.jws)


def bench_grant_concurrency() -> None:
    from django.db import connections

    from bench.run import database_name, row

    rates = {}
    for processes in PROCESSES:
        per_process = CONCURRENT_GRANTS // processes
        # Each process's one warm-up grant (imports, connection, caches) comes first.
        pairs = open_requests(processes * (per_process + 1), f"c{processes}")
        jobs = [
            [(request.pk, resident.pk) for request, resident in pairs[n::processes]]
            for n in range(processes)
        ]
        connections.close_all()
        rates[processes] = _grant_in_parallel(jobs)
    figures = ", ".join(f"{n} → {rates[n]:.1f}" for n in PROCESSES)
    print(f"[{database_name()}] grants/s by processes granting at once: {figures}", flush=True)
    for processes in PROCESSES[1:]:
        what = f"grants with {processes} processes at once"
        figure = f"{rates[processes]:.1f} grants/s"
        floor = f"1 process: {rates[1]:.1f} grants/s"
        ratio = rates[processes] / rates[1]
        if database_name() == "SQLite":
            print(
                f"[SQLite] {what}: {figure} | floor, {floor} | {ratio:.2f} "
                "(no aim: SQLite takes one writer at a time)",
                flush=True,
            )
        else:
            row(what, figure, floor, ratio, least="1.40")


def _grant_in_parallel(jobs: list[list[tuple]]) -> float:
    """Grants per second from one spawned process per job, started together."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(jobs)), context.Queue()
    processes = [context.Process(target=_granting, args=(job, barrier, results)) for job in jobs]
    for process in processes:
        process.start()
    try:
        spans = [results.get(timeout=600) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
                process.join()
    failed = [span for span in spans if isinstance(span, str)]
    if failed:
        raise RuntimeError(f"a granting process failed: {failed[0]}")
    grants = sum(count for _start, _end, count in spans)
    return grants / (max(end for _s, end, _c in spans) - min(start for start, _e, _c in spans))


def _granting(job: list[tuple], barrier, results) -> None:
    """In a spawned process: set Django up, warm up with the first grant, wait for the
    others, then grant the rest and report (start, end, grants)."""
    try:
        import django

        django.setup()  # the parent's environment names the settings, database and broker
        from django.contrib.auth import get_user_model

        from consent import services
        from consent.models import ConsentRequest

        pairs = [
            (ConsentRequest.objects.get(pk=request), get_user_model().objects.get(pk=resident))
            for request, resident in job
        ]
        (request, resident), *pairs = pairs
        services.consent_grant(request=request, resident=resident, language="fi", notice_text="n")
        barrier.wait(timeout=300)
        started = time.monotonic()
        for request, resident in pairs:
            services.consent_grant(
                request=request, resident=resident, language="fi", notice_text="n"
            )
        results.put((started, time.monotonic(), len(pairs)))
    except BaseException as error:  # the parent must hear of it, or it waits
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")
        raise
