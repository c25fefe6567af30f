"""Typed readers for deployment settings taken from the environment.

Each helper fails loudly: a value that is present but malformed stops the
process at start-up with the variable's name, rather than running on a guess.
"""

import math
import os
import re
import secrets
from pathlib import Path
from typing import NamedTuple, overload


class EnvError(RuntimeError):
    pass


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@overload
def env_str(name: str) -> str | None: ...
@overload
def env_str(name: str, default: str) -> str: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_required(name: str) -> str:
    value = env_str(name)
    if value is None:
        raise EnvError(f"{name} must be set in this environment")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise EnvError(f"{name} must be a boolean (true/false), not {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise EnvError(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise EnvError(f"{name} must be a positive finite number, not {value!r}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_ports(name: str) -> tuple[int, ...]:
    """A comma-separated list of TCP port numbers (1 to 65535); none when unset."""
    ports = []
    for item in env_list(name, []):
        if not item.isdigit() or not 1 <= int(item) <= 65535:
            raise EnvError(f"{name} must list port numbers from 1 to 65535, not {item!r}")
        ports.append(int(item))
    return tuple(ports)


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise EnvError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


class Rate(NamedTuple):
    """A rate limit: at most `requests` in any `seconds`."""

    requests: int
    seconds: int


_RATE = re.compile(r"(?P<requests>\d+)/(?P<count>\d*)(?P<unit>[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def env_rate(name: str, default: str) -> Rate | None:
    """A rate limit written `N/PERIOD`: `600/m`, `10/h`, `100/10s`; `off` for none.

    PERIOD is s, m, h or d, optionally with a count before it (`5/15m`).
    """
    value = env_str(name, default).strip()
    if value.lower() == "off":
        return None
    found = _RATE.fullmatch(value)
    if found is None:
        raise EnvError(f"{name} must be a rate such as 600/m, 100/10s or off, not {value!r}")
    requests = int(found["requests"])
    seconds = int(found["count"] or 1) * _UNIT_SECONDS[found["unit"]]
    if requests < 1 or seconds < 1:
        raise EnvError(f"{name} must allow at least 1 request in at least 1 second, not {value!r}")
    return Rate(requests, seconds)


def env_header_name(name: str) -> str:
    """An HTTP header's name (letters, digits and hyphens), or "" when unset."""
    value = env_str(name, "")
    if not re.fullmatch(r"[A-Za-z0-9-]*", value):
        raise EnvError(f"{name} must be an HTTP header's name, such as X-Request-ID, not {value!r}")
    return value


def local_secret(path: Path) -> str:
    """Read a secret kept in a local file, creating it (mode 0600) on first use.

    Only for development: production deployments pass secrets in the environment.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then link into place: the web server and the workers may
        # start together, and none of them may read a half-written secret.
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
