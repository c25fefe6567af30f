import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import generation
from registry.models import Service
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


@pytest.fixture
def many_sinks(staff, data_types):
    """`count` approved sinks of one organisation."""

    def make(count: int) -> None:
        provider = make_provider(name="Org", business_id=BUSINESS_IDS[0], username="org")
        for n in range(count):
            register_service(provider, sink_spec(slug=f"sink-{n}"), approve_by=staff)

    return make


@pytest.mark.parametrize("count", [5, 50])
def test_public_list_built_afresh_in_five_statements(client, many_sinks, count):
    many_sinks(count)
    generation.forget()

    # The generation, the services with their organisations, their two sets of types,
    # and their algorithms.
    assert _count_queries(client, "/api/v1/services?limit=50") == 5


@pytest.mark.parametrize("count", [5, 50])
def test_public_list_kept_is_one_statement(client, many_sinks, count):
    many_sinks(count)
    client.get("/api/v1/services?limit=50")

    assert _count_queries(client, "/api/v1/services?limit=50") == 1


def test_public_list_not_modified_is_one_statement(client, many_sinks):
    many_sinks(5)
    etag = client.get("/api/v1/services")["ETag"]

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/services", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert len(queries) == 1


def test_public_service_kept_is_one_statement(client, many_sinks):
    many_sinks(5)
    service = Service.objects.get(slug="sink-3")
    client.get(f"/api/v1/services/{service.pk}")

    assert _count_queries(client, f"/api/v1/services/{service.pk}") == 1


@pytest.mark.parametrize("query", ["role=sink", "data_type=wellbeing.steps", "role=source"])
def test_public_list_filtered_and_kept_is_one_statement(client, many_sinks, query):
    many_sinks(5)
    client.get(f"/api/v1/services?{query}")

    assert _count_queries(client, f"/api/v1/services?{query}") == 1
