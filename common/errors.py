"""Errors that services raise and every interface (API, web, admin) turns into its own answer.

`code` is stable, for clients to branch on; `message` is for people. The classes
are not frozen: Python sets `__traceback__` on an exception as it passes through
a `with` block, and a frozen dataclass refuses that.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class ServiceError(Exception):
    code: str
    message: str
    # Members an API answer adds beside code and message, such as the id of the
    # transfer a conflict is with.
    detail: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class Conflict(ServiceError):
    """The change does not apply to the thing in its present state (HTTP 409)."""


class Unprocessable(ServiceError):
    """The request is well formed but cannot be taken as it is (HTTP 422)."""


class Forbidden(ServiceError):
    """The caller may not ask for this, whatever the state of things (HTTP 403)."""


class Unavailable(ServiceError):
    """The operator cannot do this until it is set up or a part of it is back (HTTP 503)."""
