"""Errors that services raise and every interface (API, web, admin) turns into its own answer."""

from dataclasses import dataclass


# Not frozen: Python sets __traceback__ on an exception as it passes through a
# `with` block, and a frozen dataclass refuses that.
@dataclass(eq=False)
class Conflict(Exception):
    """The change does not apply to the thing in its present state (HTTP 409).

    `code` is stable, for clients to branch on; `message` is for people.
    """

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Unprocessable(Exception):
    """The request is well formed but cannot be taken as it is (HTTP 422)."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message
