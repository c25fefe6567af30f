"""Benchmarks: each prints its measured figure beside a floor measured in the same run.

Run with `make bench`. Nothing here is part of `make test`; nothing asserts a time.

Every row of the performance table is one line that ends with its ratio and aim,
`0.02 (aim: at least 0.20)` or `3.1 (aim: at most 2.0)`, and names the database it
ran on in brackets: a script can tell which aims hold (the run ends with that count).

The rows that need a database run in a child process per database: first on a
throwaway SQLite file (the embedded default), then, when DATABASE_URL names
PostgreSQL, on a throwaway database on that server (created beside the one named,
dropped afterwards), with a private redis-server as cache and broker: the
production path. The named database itself is never written to.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# How a row ends: its ratio and its aim. The summary at the end counts them.
AIM = re.compile(
    r"(?P<ratio>\d+(?:\.\d+)?) \(aim: at (?P<side>least|most) (?P<aim>\d+(?:\.\d+)?)\)$"
)


def rate(fetch, *, seconds: float = 2.0) -> float:
    """Requests per second that `fetch` sustains, after a short warm-up."""
    for _ in range(20):
        fetch()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fetch()
        count += 1
    return count / (time.perf_counter() - started)


def ratio_text(ratio: float, aim: str) -> str:
    """`ratio` with as many decimals as `aim` has, more when it would show as nothing."""
    decimals = len(aim.partition(".")[2])
    while ratio and round(ratio, decimals) == 0 and decimals < 4:
        decimals += 1
    return f"{ratio:.{decimals}f}"


def row(
    what: str, figure: str, floor: str, ratio: float, *, least: str = "", most: str = ""
) -> None:
    """One row of the table: `[database] what: figure | floor: figure | ratio (aim: ...)`."""
    side, aim = ("least", least) if least else ("most", most)
    print(
        f"[{database_name()}] {what}: {figure} | floor, {floor} | "
        f"{ratio_text(ratio, aim)} (aim: at {side} {aim})",
        flush=True,
    )


def note(text: str) -> None:
    print(f"    {text}", flush=True)


def database_name() -> str:
    from django.db import connection

    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    return names.get(connection.vendor, connection.vendor)


def seed_registry(services: int) -> None:
    from django.contrib.auth import get_user_model

    from registry import services as registry
    from registry.models import DataType

    DataType.objects.get_or_create(
        key="wellbeing.steps", defaults={"title_fi": "a", "title_sv": "a", "title_en": "a"}
    )
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
    row(
        "public registry list, 50 services a page (Django test client)",
        f"{listing:.1f} req/s ({len(queries)} queries a request)",
        f"discovery document (same stack, no database): {floor:.1f} req/s",
        listing / floor, least="0.50",
    )  # fmt: skip


@contextmanager
def django_in_temporary_directory(
    database_url: str | None = None, redis_url: str | None = None
) -> Iterator[None]:
    """Django set up on a fresh, migrated database: a SQLite file deleted afterwards, or
    `database_url` (a throwaway database the caller drops). With `redis_url`, that Redis is
    the cache and the broker; without, the embedded defaults (files in the directory).
    Never the Redis or the database that the environment names."""
    with tempfile.TemporaryDirectory() as var:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="omadata.settings",
            OMADATA_VAR_DIR=var,
            DATABASE_URL=database_url or f"sqlite:///{var}/bench.sqlite3",
            OMADATA_ALLOW_LOOPBACK_URLS="true",
            DJANGO_DEBUG="false",  # no query log: measure what production runs
            OMADATA_KEYS_DIR=f"{var}/keys",
            # The benchmarks ask the API thousands of times with one client, from one
            # address: they measure the paths, not the limits that would refuse them.
            OMADATA_RATE_ANONYMOUS="off",
            OMADATA_RATE_API_CLIENT="off",
            OMADATA_RATE_API_ORGANISATION="off",
            OMADATA_RATE_TOKEN_ADDRESS="off",  # noqa: S106 (a rate, not a secret): it counts every token request
            CELERY_BROKER_URL=redis_url or "",
            REDIS_URL="",
            OMADATA_CACHE_URL="",
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield


# -- one database's rows, in a process of its own -------------------------------------------


def run_on_database(database_url: str | None, load_generator: str) -> None:
    """Every row that needs a database, on `database_url` (None: a throwaway SQLite file).

    On PostgreSQL a private redis-server is the cache and the broker from the start, as
    in production; on SQLite only the relay's workers use it.
    """
    from bench.api import bench_api
    from bench.export import bench_export
    from bench.merkle import bench_log_proofs
    from bench.receipts import bench_grant_concurrency, bench_receipts
    from bench.relay import bench_relay
    from tests.servers import RedisServer

    redis = RedisServer() if redis_server_installed() else None
    try:
        if redis is not None:
            redis.start()
        production = redis.url if redis is not None and database_url else None
        with django_in_temporary_directory(database_url, production):
            print(f"== {database_name()}: {describe_database()}", flush=True)
            bench_registry_list()
            bench_receipts()
            bench_grant_concurrency()
            bench_export()
            bench_api(load_generator)
            if redis is None:
                print(f"[{database_name()}] relay rows skipped: redis-server is not installed")
            else:
                bench_relay(redis)
            if not database_url:
                # Last: it empties the log and builds one of a million leaves in its place.
                bench_log_proofs()
    finally:
        if redis is not None:
            redis.stop()


def describe_database() -> str:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        return "a throwaway file in a temporary directory (WAL), file cache; no server"
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return (
        f"throwaway database {connection.settings_dict['NAME']} on "
        f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}, "
        f"cache {cache}, broker {settings.CELERY_BROKER_URL.split(':')[0]}, "
        f"DATABASE_CONN_MAX_AGE {settings.DATABASES['default']['CONN_MAX_AGE']}"
    )


def redis_server_installed() -> bool:
    import shutil

    return shutil.which("redis-server") is not None


# -- the driver -----------------------------------------------------------------------------


def postgresql_url(url: str) -> bool:
    return urlsplit(url).scheme in ("postgres", "postgresql", "pgsql", "postgis")


@contextmanager
def throwaway_postgresql_database(url: str) -> Iterator[str]:
    """A new database beside the one `url` names, on the same server; dropped afterwards."""
    import psycopg

    parts = urlsplit(url)
    named = parts.path.lstrip("/") or "omadata"
    name = f"{named[:40]}_bench_{os.getpid()}"
    # libpq knows postgres:// and postgresql:// only; dj-database-url knows more names.
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(database_url: str | None, load_generator: str, lines: list[str]) -> None:
    """Run `run_on_database` in a fresh interpreter (Django sets up once per process)."""
    command = [sys.executable, str(Path(__file__)), "--load-generator", load_generator]
    command += ["--database-url", database_url] if database_url else ["--sqlite"]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        for line in child.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
        if child.wait() != 0:
            raise SystemExit(f"the benchmarks on {database_url or 'SQLite'} failed")
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()


def summary(lines: list[str], seconds: float) -> None:
    rows = [(line, AIM.search(line)) for line in lines]
    rows = [(line, found) for line, found in rows if found]
    missed = [
        line for line, found in rows
        if not (float(found["ratio"]) >= float(found["aim"]) if found["side"] == "least"
                else float(found["ratio"]) <= float(found["aim"]))
    ]  # fmt: skip
    print(f"\naims held: {len(rows) - len(missed)} of {len(rows)}, in {seconds / 60:.1f} minutes")
    for line in missed:
        print(f"  not held: {line.split(' | ')[0].split(': ')[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--load-generator", choices=("auto", "wrk", "python"), default="auto",
        help="for the gunicorn rows: wrk if installed (auto), or bench/load.py",
    )  # fmt: skip
    parser.add_argument("--sqlite", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.sqlite or options.database_url:  # a child: one database's rows
        run_on_database(options.database_url, options.load_generator)
        return

    from bench.verifier import bench_verifier

    started, lines = time.monotonic(), []
    run_child(None, options.load_generator, lines)
    url = os.environ.get("DATABASE_URL", "")
    print()
    if postgresql_url(url):
        with throwaway_postgresql_database(url) as throwaway:
            run_child(throwaway, options.load_generator, lines)
    else:
        print("PostgreSQL rows skipped: DATABASE_URL does not name PostgreSQL")
    print()
    lines += bench_verifier()
    summary(lines, time.monotonic() - started)


if __name__ == "__main__":
    main()
