import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_provider, register_service, sink_spec

pytestmark = pytest.mark.django_db
BUSINESS_IDS = ("0101263-6", "0201256-6", "2345678-0", "1572860-0")


def _count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.fixture
def approved_sinks(staff, data_types):
    def make(count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            provider = make_provider(
                name=f"Org {n}", business_id=BUSINESS_IDS[n], username=f"org{n}"
            )
            register_service(provider, sink_spec(slug=f"sink-{n}"), approve_by=staff)

    return make


def test_public_list_queries_do_not_grow_with_services(client, approved_sinks):
    approved_sinks(1)
    one = _count_queries(client, "/api/v1/services")
    approved_sinks(3, start=1)

    assert _count_queries(client, "/api/v1/services") == one


def test_front_page_queries_do_not_grow_with_services(client, approved_sinks):
    approved_sinks(1)
    one = _count_queries(client, "/")
    approved_sinks(3, start=1)

    assert _count_queries(client, "/") == one
