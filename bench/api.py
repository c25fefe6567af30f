"""The API under gunicorn, driven by a load generator at 8 connections, beside a plain view.

gunicorn runs as the Procfile's `web` line runs it (workers, threads, access log,
logger class), on the benchmark's database and settings, with one change: the
URLconf is bench/urls.py, the operator's URLs plus a plain Django JSON view at
/bench/plain (bench/settings.py). That view, through the same middleware, workers
and load generator, is the floor of these rows (measured before and after them,
and averaged):

- an authenticated API read, GET /api/v1/consents/{id} with a bearer token, of a
  consent with its receipts: requests per second and the 99th percentile latency,
  whose ratio to the plain view's is the row's (the aim is at most 2);
- the client-credentials token endpoint (POST /o/token/ with the client's Basic
  credentials): tokens per second against the plain view's requests per second
  (run again for 30 s when 5 s complete too few tokens to count).

The load generator is wrk when installed, else bench/load.py (bench/load.py says
how they differ); the first line of these rows says which.

Run with `make bench` (every benchmark) or `python bench/api.py` (these rows only).
"""

import base64
import http.client
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONNECTIONS = 8
SECONDS = 5.0
# A token run that completes fewer tokens than this is run again for LONG_SECONDS.
TOKENS_AT_LEAST, LONG_SECONDS = 16, 30.0
PLAIN = "/bench/plain"


def bench_api(load_generator: str = "auto") -> None:
    from django.conf import settings

    from bench import load
    from bench.relay import stop
    from bench.run import database_name, note, row

    consent_id, client_id, secret = seed_reader()
    log = Path(settings.VAR_DIR) / "gunicorn.log"
    server, port = start_gunicorn(log)
    try:
        base = f"http://127.0.0.1:{port}"
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        token_form = urlencode({"grant_type": "client_credentials", "scope": "consents:read"})
        token_headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        token = json.loads(call(port, "POST", "/o/token/", token_form, token_headers))
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        read = f"/api/v1/consents/{consent_id}"
        answer = json.loads(call(port, "GET", read, "", bearer))
        assert str(answer["id"]) == str(consent_id), answer
        call(port, "GET", PLAIN, "", {})

        def measure(path: str, seconds: float = SECONDS, **kwargs) -> load.Load:
            return load.measure(
                base + path, choice=load_generator, connections=CONNECTIONS, seconds=seconds,
                **kwargs,
            )  # fmt: skip

        # Warm-up: every worker and thread imports and connects before the clock runs.
        measure(PLAIN, 1.0)
        measure(read, 1.0, headers=bearer)
        plain_before = measure(PLAIN)
        consent = measure(read, headers=bearer)
        tokens = measure("/o/token/", method="POST", headers=token_headers, body=token_form)
        if tokens.requests < TOKENS_AT_LEAST:
            # Too few to count: the endpoint is slow enough that a longer run costs little.
            tokens = measure(
                "/o/token/", LONG_SECONDS, method="POST", headers=token_headers, body=token_form
            )
        plain = mean(plain_before, measure(PLAIN))
    except BaseException:
        print("--- gunicorn.log", *log.read_text().splitlines()[-30:], sep="\n", file=sys.stderr)
        raise
    finally:
        stop(server)

    print(
        f"[{database_name()}] gunicorn as the Procfile runs it; load generator: "
        f"{load.describe(load_generator)}, {CONNECTIONS} connections, {SECONDS:g} s a run",
        flush=True,
    )
    floor = f"plain Django JSON view: {plain.rate:.1f} req/s, p99 {plain.p99_ms:.1f} ms"
    row(
        "authenticated API read GET /api/v1/consents/{id}, p99",
        f"{consent.rate:.1f} req/s, p50 {consent.p50_ms:.1f} ms, p99 {consent.p99_ms:.1f} ms",
        floor, consent.p99_ms / plain.p99_ms, most="2.0",
    )  # fmt: skip
    row(
        "client-credentials token endpoint",
        f"{tokens.rate:.1f} tokens/s, p99 {tokens.p99_ms:.0f} ms "
        f"({tokens.requests} tokens in {tokens.seconds:.0f} s)",
        floor, tokens.rate / plain.rate, least="0.50",
    )  # fmt: skip
    note(f"req/s of the API read against the plain view's: {consent.rate / plain.rate:.2f}")


def mean(first, second):
    """The floor: the plain view's figures on each side of the others' runs, averaged, as on
    a shared machine either may be unlucky."""
    from bench.load import Load

    return Load(
        requests=first.requests + second.requests, seconds=first.seconds + second.seconds,
        p50_ms=(first.p50_ms + second.p50_ms) / 2, p99_ms=(first.p99_ms + second.p99_ms) / 2,
    )  # fmt: skip


def seed_reader() -> tuple[str, str, str]:
    """A consent with its receipts, and a client of its sink's organisation: (consent id,
    client id, client secret)."""
    from bench.receipts import open_requests
    from consent import services
    from registry import services as registry

    ((request, resident),) = open_requests(1, "api-reader")
    consent = services.consent_grant(
        request=request, resident=resident, language="fi", notice_text="n"
    )
    provider = registry.provider_create(
        organisation=consent.sink.organisation, username="api-bench-provider",
        email="bench@example.fi", password=secrets.token_urlsafe(24),
    )  # fmt: skip
    application, secret = registry.credential_create(provider=provider, name="bench")
    return str(consent.id), application.client_id, secret


def start_gunicorn(log: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn as the Procfile's `web` line starts it, on a free port, logging to `log`."""
    from tests.servers import free_port

    port = free_port()
    line = next(
        line.split(":", 1)[1]
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    env = {**os.environ, "OMADATA_PORT": str(port), "DJANGO_SETTINGS_MODULE": "bench.settings"}
    command = [_expand(word, env) for word in shlex.split(line)]
    if command[0] != "gunicorn":
        raise RuntimeError(f"the Procfile's web line does not start gunicorn: {line}")
    command[:1] = [sys.executable, "-m", "gunicorn"]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            call(port, "GET", PLAIN, "", {})
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                from bench.relay import stop

                stop(server)
                raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)


def _expand(word: str, env: dict[str, str]) -> str:
    for name, value in env.items():
        word = word.replace(f"${{{name}}}", value)
    return word


def call(port: int, method: str, path: str, body: str, headers: dict[str, str]) -> bytes:
    """One request; its body if it answers 200, else an error that says what it answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{method} {path} answered {response.status}: {answer[:500]!r}")
    return answer


def main() -> None:
    import argparse

    from bench.run import django_in_temporary_directory

    parser = argparse.ArgumentParser(description="The gunicorn rows of `make bench`, on SQLite.")
    parser.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto")
    options = parser.parse_args()
    with django_in_temporary_directory():
        bench_api(options.load_generator)


if __name__ == "__main__":
    main()
