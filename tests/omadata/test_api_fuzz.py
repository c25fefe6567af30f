"""A bounded property-based fuzz of the whole OpenAPI document, with valid tokens.

Schemathesis generates requests for every operation of /api/schema/, valid and
invalid ones, and sends them in-process to the operator's WSGI application,
with the token of a provider that holds every scope. Every answer must be no
server error, with a status code, a content type and a body that the document
describes. Path parameters and the ids in bodies are, as often as not, real
objects of tests/world.py, so the fuzz gets past "not found" into the views.

Bounded and derandomized: the same cases on every run, in seconds. Leave it
out while working with `-m 'not fuzz'`.
"""

import uuid

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from omadata.wsgi import application

pytestmark = pytest.mark.django_db

# At most this many generated cases an operation, besides the schema's own examples
# and the edge cases of its constraints that Schemathesis adds.
MAX_EXAMPLES = 20

CONFIG = schemathesis.Config.from_dict(
    {"generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"}}
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TOKENS = ("sink_api", "source_api", "other_api")


def real_ids(world) -> dict[str, uuid.UUID]:
    """The world's object for each id a path or a body names."""
    return {
        "consent_id": world.consent.pk,
        "request_id": world.request.pk,
        "transfer_id": world.transfer.pk,
        "receipt_id": world.receipt.pk,
        "service_id": world.pending.pk,
        "consent": world.consent.pk,
        "sink": world.wellbeing.pk,
        "source": world.wearable.pk,
        "service": world.wearable.pk,
    }


@pytest.mark.fuzz
@schema.parametrize()
@schema.given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_operation_answers_as_documented(case, data, world, in_process_requests):
    ids = real_ids(world)
    for name in case.path_parameters or {}:
        if name in ids and data.draw(st.booleans(), label=f"a real {name}"):
            case.path_parameters[name] = str(ids[name])
    if isinstance(case.body, dict):
        for name in set(case.body) & set(ids):
            if data.draw(st.booleans(), label=f"a real {name}"):
                case.body[name] = str(ids[name])
    persona = data.draw(st.sampled_from(TOKENS), label="caller")
    token = world.personas[persona].token

    with transaction.atomic():
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
        transaction.set_rollback(True)


# -- what the fuzz does not reach -----------------------------------------------------------

JSON_BODIES = [
    (method.upper(), path)
    for path, operations in schema.raw_schema["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]


@pytest.mark.parametrize(("method", "path"), JSON_BODIES)
def test_deeply_nested_json_body_is_refused_not_a_server_error(
    method, path, world, clients, world_request
):
    # Nesting, not size: 200 kB, under the request size limit.
    body = "[" * 100_000 + "]" * 100_000
    filled = path.replace("{service_id}", str(world.pending.pk))

    response = world_request(
        clients["source_api"], method, filled, data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
