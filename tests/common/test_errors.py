"""Errors the services raise travel through `with` blocks like any exception."""

from contextlib import contextmanager

import pytest

from common.errors import Conflict
from common.netguard import UnsafeURL
from common.outbound import OutboundError
from ledger.jws import JWSError


@contextmanager
def passing_through():
    yield


@pytest.mark.parametrize(
    "error",
    [
        Conflict("code", "message"),
        UnsafeURL("code", "message"),
        OutboundError("code", "message"),
        JWSError("code", "message"),
    ],
)
def test_error_raised_inside_a_context_manager_arrives_intact(error):
    with pytest.raises(type(error)) as raised, passing_through():
        raise error

    assert raised.value.code == "code"
    assert str(raised.value) == "message"
