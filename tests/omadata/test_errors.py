"""Errors the services raise travel through `with` blocks like any exception."""

from contextlib import contextmanager

import pytest

from consent.jws import JWSError
from omadata.errors import Conflict
from omadata.netguard import UnsafeURL
from omadata.outbound import OutboundError


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
