"""Test groups that need a real part of the machine: PostgreSQL, Redis, Chromium, curl and jq.

Locally, a group whose part is missing is skipped and named at the end of the
run with the reason. With CI=true a missing part fails the run instead.
"""

import functools
import os
import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@functools.cache
def unavailable(group: str) -> str | None:
    """Why `group` cannot run here, or None when it can."""
    return {
        "postgres": _postgres, "redis": _redis, "browser": _browser, "shell": _shell,
    }[group]()  # fmt: skip


def _postgres() -> str | None:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        return "DATABASE_URL is not PostgreSQL (the suite ran on SQLite)"
    return None


def _redis() -> str | None:
    if shutil.which("redis-server") is None:
        return "the redis-server binary is not installed"
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return f"no Redis answers at {REDIS_URL} ({type(error).__name__})"
    return None


def _browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian packages chromium and chromium-driver)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def _shell() -> str | None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (Debian packages {' '.join(missing)})"
    return None
