"""The outbox rules that notifications and transfers share."""

import pytest

from common import outbox


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ("timeout", True),
        ("connection_failed", True),
        ("server_error", True),
        ("rate_limited", True),
        ("unresolvable_host", True),
        ("source_timeout", True),
        ("sink_server_error", True),
        ("rejected", False),
        ("redirect_refused", False),
        ("sink_rejected", False),
        ("source_response_too_large", False),
        ("service_not_approved", False),
        ("read_timeout", False),  # only the side of a transfer is a prefix, not any word
    ],
)
def test_only_failures_that_may_pass_are_transient(error, transient):
    assert outbox.is_transient(error) is transient


@pytest.mark.parametrize(
    ("status", "error"),
    [(200, ""), (204, ""), (400, "rejected"), (404, "rejected"), (429, "rate_limited"),
     (500, "server_error"), (503, "server_error")],
)  # fmt: skip
def test_http_statuses_map_to_the_operators_own_codes(status, error):
    assert outbox.http_error(status) == error


def test_a_passing_failure_is_retried_until_the_last_attempt():
    assert outbox.verdict(error="timeout", attempts=1, max_attempts=3) == outbox.RETRY
    assert outbox.verdict(error="timeout", attempts=3, max_attempts=3) == outbox.FAILED
    assert outbox.verdict(error="rejected", attempts=1, max_attempts=3) == outbox.FAILED
    assert outbox.verdict(error="", attempts=3, max_attempts=3) == outbox.DELIVERED
