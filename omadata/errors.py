"""Errors that services raise and every interface (API, web, admin) turns into its own answer."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Conflict(Exception):
    """The change does not apply to the thing in its present state (HTTP 409).

    `code` is stable, for clients to branch on; `message` is for people.
    """

    code: str
    message: str

    def __str__(self) -> str:
        return self.message
