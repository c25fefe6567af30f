"""Load on an HTTP server at a fixed number of connections: wrk, or a small one of our own.

`measure(...)` runs the load in a process of its own (never the benchmark's, whose
GIL it would share) and returns requests per second and latency percentiles.
wrk (the Debian package; .ci/run installs it) is used when installed. Otherwise
`python -m bench.load` stands in: one thread per connection, each a keep-alive
http.client connection sending request after request. It spends more CPU per
request than wrk does, on the same cores as the server, so its figures are lower;
floor and path are measured with the same generator, so their ratio holds.

Every answer must be a success: a benchmark that measured 401s or 429s would
measure nothing. The stand-in checks each status; wrk counts those outside 2xx
and 3xx, and the caller checks each URL's status once before the load.
"""

import http.client
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def generator(choice: str = "auto") -> str:
    """What `measure` uses for `choice` (auto, wrk or python): "wrk" or "python"."""
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    return choice


def describe(choice: str) -> str:
    if generator(choice) == "wrk":
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        return f"wrk {version.split()[1] if version else ''}".strip()
    missing = "" if shutil.which("wrk") else " (wrk is not installed)"
    return f"bench/load.py{missing}: Python threads, one keep-alive connection each"


def measure(
    url: str, *, choice: str, connections: int = 8, seconds: float = 5.0, method: str = "GET",
    headers: dict[str, str] | None = None, body: str = "", expect: int = 200,
) -> Load:  # fmt: skip
    headers = headers or {}
    if generator(choice) == "wrk":
        return _wrk(url, connections, seconds, method, headers, body)
    spec = json.dumps({
        "url": url, "connections": connections, "seconds": seconds, "method": method,
        "headers": headers, "body": body, "expect": expect,
    })  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", spec], cwd=ROOT, capture_output=True, text=True,
        timeout=seconds + 120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr.strip()[-2000:]}")
    return Load(**json.loads(done.stdout))


# -- wrk -------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk(url, connections, seconds, method, headers, body) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            f"wrk.method = {_lua(method)}\nwrk.body = {_lua(body)}\n"
            + "".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}\n" for k, v in headers.items())
        )
        script.flush()
        threads = min(2, connections)
        done = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
             "--timeout", "30s", "-s", script.name, url],
            capture_output=True, text=True, timeout=seconds + 120, check=False,
        )  # fmt: skip
    out = done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or out}")
    # wrk counts the answers outside 2xx and 3xx; the caller has seen the URL answer
    # `expect` once (a Lua response() hook would check each, at a cost to wrk's rate).
    unexpected = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if unexpected or errors:
        raise RuntimeError(
            f"{url}: {unexpected[1] if unexpected else 0} answers outside 2xx and 3xx"
            + (f"; socket errors: {errors[1]}" if errors else "")
        )
    completed = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    elapsed = float(completed[2]) * _UNITS[completed[3]] / 1e3
    return Load(
        requests=int(completed[1]), seconds=elapsed,
        p50_ms=_latency(out, "50%"), p99_ms=_latency(out, "99%"),
    )  # fmt: skip


def _latency(out: str, percentile: str) -> float:
    found = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    return float(found[1]) * _UNITS[found[2]]


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


# -- the stand-in --------------------------------------------------------------------------


def _run(spec: dict) -> dict:
    parts = urlsplit(spec["url"])
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body = spec["body"].encode() or None
    deadline = time.monotonic() + spec["seconds"]
    latencies: list[float] = []
    unexpected: list[int] = []
    lock = threading.Lock()

    def connection_loop() -> None:
        mine = []
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                connection.request(spec["method"], target, body=body, headers=spec["headers"])
                response = connection.getresponse()
                response.read()
                mine.append(time.perf_counter() - started)
                if response.status != spec["expect"]:
                    unexpected.append(response.status)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=connection_loop) for _ in range(spec["connections"])]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if unexpected:
        raise SystemExit(f"{len(unexpected)} answers other than {spec['expect']}: {unexpected[:5]}")
    latencies.sort()
    pick = lambda share: latencies[min(len(latencies) - 1, int(share * len(latencies)))]  # noqa: E731
    return {
        "requests": len(latencies), "seconds": elapsed,
        "p50_ms": pick(0.50) * 1e3, "p99_ms": pick(0.99) * 1e3,
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(_run(json.loads(sys.argv[1]))))
