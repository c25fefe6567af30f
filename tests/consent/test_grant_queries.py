"""A grant costs a fixed number of statements, so that none creeps in unnoticed."""

import pytest

from tests.factories import grant_consent, link_resident, request_consent

pytestmark = pytest.mark.django_db


def test_a_grant_with_its_two_receipts_takes_a_fixed_number_of_statements(
    wearable, wellbeing, aino, django_assert_max_num_queries
):
    link_resident(aino, wearable)
    request = request_consent(sink=wellbeing, source=wearable)

    # The resident's and the request's locks, the request's sources with their services;
    # every link in one read; the sink's link and its receipt; the consent, its data
    # types, its sources (written, not read again), the sink's algorithms (the screen
    # passes those it showed instead), the superseded ones, the request;
    # the consent's receipt; two notifications. Each receipt is an entry, its place in
    # the queue and its row, signed without a lock. Four reads of the signing key (a
    # process that has committed its key's record skips them) and the test's savepoint.
    with django_assert_max_num_queries(27):
        grant_consent(request, aino)
