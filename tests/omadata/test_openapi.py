import pytest
import yaml
from django.core.management import call_command
from django.urls import resolve

from tests.paths import fill_placeholders

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


def test_oauth2_scheme_is_client_credentials_with_the_token_url_and_every_scope(schema, settings):
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]

    assert list(flows) == ["clientCredentials"]
    assert flows["clientCredentials"]["tokenUrl"] == f"{settings.BASE_URL}/o/token/"
    assert flows["clientCredentials"]["scopes"] == settings.OMADATA_SCOPES


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_security_requirement_names_a_defined_scheme_and_scope(schema):
    schemes = schema["components"]["securitySchemes"]
    for path, method, operation in _operations(schema):
        for requirement in operation.get("security", []):
            for name, scopes in requirement.items():
                assert name in schemes, (path, method)
                assert set(scopes) <= set(schemes[name]["flows"]["clientCredentials"]["scopes"])


def test_documented_scopes_are_the_scopes_each_view_enforces(schema):
    for path, method, operation in _operations(schema):
        # Every path parameter of this API is a UUID.
        view = resolve(fill_placeholders(path)).func.view_class
        enforced = getattr(view, "required_scopes", {}).get(method.upper())
        documented = [s for r in operation.get("security", []) for s in r.get("oauth2", [])]
        expected = [] if enforced is None else [enforced] if isinstance(enforced, str) else enforced
        assert documented == list(expected), (path, method)


def test_a_consent_request_requires_the_frequency_kind_and_marks_the_old_name_deprecated(schema):
    frequency = schema["components"]["schemas"]["FrequencyInputRequest"]

    assert "kind" in frequency["required"]
    assert frequency["properties"]["frequency"]["deprecated"] is True


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/docs/?format=json", 404),
        ("get", "/api/schema/?format=xml", 404),
        ("delete", "/api/docs/", 405),
        ("delete", "/api/schema/", 405),
    ],
)
def test_errors_of_the_docs_and_the_schema_are_the_apis_json(client, method, url, status):
    response = getattr(client, method)(url)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"code", "message", "fields", "request_id"}


@pytest.mark.parametrize("url", ["/health", "/.well-known/jwks.json"])
def test_head_is_answered_like_get(client, url):
    assert client.head(url).status_code == 200


@pytest.mark.parametrize("url", ["/api/docs/", "/api/docs/?script"])
def test_no_cache_keeps_the_docs_page_or_its_script(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("query", ["", "?version=1", "?lang=sv", "?lang=en&version=1"])
def test_the_schema_is_the_current_version_in_a_language_of_the_site(client, query):
    response = client.get(f"/api/schema/{query}", {"format": "json"})

    assert response.status_code == 200
    assert response.json()["info"]["version"] == "1"
    assert response["Content-Disposition"] == 'inline; filename="Omadata operator API.json"'


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("version=2", "version"),
        ("version=a%0Ab", "version"),
        ("version=%E2%80%AE", "version"),
        ("lang=zh-hans", "lang"),
        ("lang=..%2Fsv", "lang"),
        ("lang=" + "s" * 300, "lang"),
    ],
)
def test_the_schema_refuses_another_version_or_language_with_400(client, query, field):
    response = client.get(f"/api/schema/?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert [error["field"] for error in response.json()["fields"]] == [field]
