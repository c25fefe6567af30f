"""Benchmarks: each prints its measured figure beside a floor measured in the same run.

Run with `make bench`. Nothing here is part of `make test`; nothing asserts a time.
"""

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rate(fetch, *, seconds: float = 2.0) -> float:
    """Requests per second that `fetch` sustains, after a short warm-up."""
    for _ in range(20):
        fetch()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fetch()
        count += 1
    return count / (time.perf_counter() - started)


def seed_registry(services: int) -> None:
    from django.contrib.auth import get_user_model

    from registry import services as registry
    from registry.models import DataType

    DataType.objects.create(key="wellbeing.steps", title_fi="a", title_sv="a", title_en="a")
    staff = get_user_model().objects.create_user("bench-staff", is_staff=True)
    for n in range(services):
        organisation = registry.organisation_create(
            name=f"Org {n}", business_id=_business_id(n), contact_email="a@example.fi"
        )
        service = registry.service_register(
            organisation=organisation, actor=staff,
            spec={
                "slug": f"service-{n}",
                "name": {"fi": "n", "sv": "n", "en": "n"},
                "description": {"fi": "d", "sv": "d", "en": "d"},
                "privacy_policy_url": "https://example.fi/privacy",
                "sink": {"delivery_url": "http://127.0.0.1:9/deliver",
                         "data_types": ["wellbeing.steps"]},
                "transparency": {"automated_decisions": False, "profiling": False},
            },
        )  # fmt: skip
        registry.service_approve(service=service, actor=staff)


def _business_id(n: int) -> str:
    from registry.ytunnus import is_valid_business_id

    base = 1000000 + n * 10
    for candidate in range(base, base + 10):
        for check in range(10):
            if is_valid_business_id(f"{candidate:07d}-{check}"):
                return f"{candidate:07d}-{check}"
    raise ValueError(n)


def bench_registry_list() -> None:
    from django.db import connection
    from django.test import Client

    client = Client()
    seed_registry(50)
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        assert client.get("/api/v1/services?limit=50").status_code == 200
    listing = rate(lambda: client.get("/api/v1/services?limit=50"))
    floor = rate(lambda: client.get("/.well-known/mydata-operator"))
    print(
        f"public registry, 50 services per page: {listing:8.1f} req/s "
        f"({len(queries)} queries per request)\n"
        f"floor, discovery document (same stack, no database): {floor:8.1f} req/s\n"
        f"ratio: {listing / floor:.2f}"
    )


@contextmanager
def django_in_temporary_directory() -> Iterator[None]:
    """Django set up on a fresh, migrated SQLite database that is deleted afterwards."""
    with tempfile.TemporaryDirectory() as var:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="omadata.settings",
            OMADATA_VAR_DIR=var,
            DATABASE_URL=f"sqlite:///{var}/bench.sqlite3",
            OMADATA_ALLOW_LOOPBACK_URLS="true",
            DJANGO_DEBUG="false",  # no query log: measure what production runs
            OMADATA_KEYS_DIR=f"{var}/keys",
            CELERY_BROKER_URL="",
            # The registry benchmark asks the public list thousands of times from one
            # address: it measures the listing, not the limit that would refuse it.
            OMADATA_RATE_ANONYMOUS="off",
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield


def main() -> None:
    from bench.merkle import bench_log_proofs
    from bench.receipts import bench_receipts
    from bench.relay import bench_relay
    from bench.verifier import bench_verifier

    with django_in_temporary_directory():
        bench_registry_list()
        print()
        bench_receipts()
        print()
        bench_log_proofs()
        print()
        bench_relay()
    print()
    bench_verifier()


if __name__ == "__main__":
    main()
