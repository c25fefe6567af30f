import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    with django_db_blocker.unblock():
        # --validate checks the document against the OpenAPI 3 JSON Schema.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/services", "post"),
        ("/api/v1/services/{service_id}", "patch"),
        ("/api/v1/organisation/services", "get"),
    ],
)
def test_authenticated_operations_document_their_errors(schema, path, method):
    operation = schema["paths"][path][method]

    assert {"400", "401", "403"} <= set(operation["responses"])
    error = operation["responses"]["403"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/Error")


def test_register_documents_its_request_body(schema):
    body = schema["paths"]["/api/v1/services"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]

    assert {"slug", "name", "source", "sink"} <= set(
        schema["components"]["schemas"][ref]["properties"]
    )


def test_docs_page_serves_its_assets_locally(client):
    page = client.get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/" in page
    assert "cdn." not in page


def test_schema_endpoint_answers(client):
    assert client.get("/api/schema/").status_code == 200
