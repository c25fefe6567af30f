"""JSON from outside, parsed within bounds (common.jsonlimits), and the API's answer to it."""

import json

import pytest

from common import jsonlimits
from tests.factories import api_as, source_spec

SERVICES = "/api/v1/services"


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def refusal(text: str | bytes, **limits) -> str | None:
    """The code jsonlimits.loads refuses `text` with, or None if it parses."""
    try:
        jsonlimits.loads(text, **limits)
    except jsonlimits.JSONRefused as refused:
        return refused.code
    return None


# -- the loader -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize("nested", [nested_arrays, nested_objects])
def test_deep_json_is_invalid_json_not_a_recursion_error(nested, depth):
    assert refusal(nested(depth), max_bytes=10**7) == "invalid_json"


@pytest.mark.parametrize("nested", [nested_arrays, nested_objects])
def test_json_at_the_depth_limit_parses(nested):
    text = nested(jsonlimits.MAX_DEPTH)

    assert jsonlimits.loads(text, max_bytes=10**6) == json.loads(text)


@pytest.mark.parametrize("nested", [nested_arrays, nested_objects])
def test_json_one_past_the_depth_limit_is_refused(nested):
    assert refusal(nested(jsonlimits.MAX_DEPTH + 1), max_bytes=10**6) == "invalid_json"


def test_brackets_inside_strings_do_not_count_as_depth():
    text = json.dumps({"text": "[" * 5000 + "{" * 5000, "quote": '\\"[[[['})

    assert jsonlimits.loads(text, max_bytes=10**6)["text"].startswith("[[[")


def test_many_shallow_values_parse():
    text = json.dumps([[i, {"k": [i]}] for i in range(5000)])

    assert len(jsonlimits.loads(text, max_bytes=10**6)) == 5000


def test_unterminated_strings_are_malformed_in_linear_time():
    # A regular expression that backtracked over unterminated strings would take
    # minutes on this; the scan must stay linear.
    text = '["' + '\\"' * 100_000 + "[" * 100

    assert refusal(text, max_bytes=10**7) == "malformed_json"


def test_json_over_the_size_limit_is_refused():
    assert refusal(b'"' + b"x" * 100 + b'"', max_bytes=100) == "invalid_json"
    assert refusal(b'"' + b"x" * 98 + b'"', max_bytes=100) is None


@pytest.mark.parametrize(
    "text",
    ['{"slug": "wearable",', "", "nul", "[1,]", "NaN", "[Infinity]", "[-Infinity]", b"\xff\xfe[]"],
)
def test_what_is_not_json_is_malformed(text):
    assert refusal(text, max_bytes=1000) == "malformed_json"


@pytest.mark.parametrize(
    "text",
    [
        '"\\ud800"',  # a lone surrogate: no UTF-8 encodes it, and no database stores it
        '{"\\udfff": 1}',
        "1e400",  # past any float: Python would read it as infinity
        "[-1e400]",
        "1" * 200,  # a number longer than any value the operator stores
    ],
)
def test_json_the_operator_cannot_hold_is_invalid(text):
    assert refusal(text, max_bytes=1000) == "invalid_json"


def test_a_surrogate_pair_is_one_character():
    assert jsonlimits.loads('"\\ud83d\\ude00"', max_bytes=100) == "\U0001f600"


# -- the API ----------------------------------------------------------------------


@pytest.fixture
def api(source_provider, data_types, settings):
    # Room for the deepest bodies: the depth limit, not the size limit, must refuse them.
    settings.OMADATA_MAX_REQUEST_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    return api_as(source_provider)


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize("nested", [nested_arrays, nested_objects])
def test_deep_json_body_is_400_invalid_json(api, nested, depth):
    response = api.post(SERVICES, nested(depth), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["fields"] == []


@pytest.mark.django_db
def test_deep_json_inside_a_field_is_400_invalid_json(api):
    body = json.dumps(source_spec())[:-1] + ', "jwks": ' + nested_objects(2_000) + "}"

    response = api.post(SERVICES, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


@pytest.mark.django_db
def test_syntax_error_stays_400_malformed_json(api):
    response = api.post(SERVICES, '{"slug": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


@pytest.mark.django_db
@pytest.mark.parametrize("value", ['"\\ud800"', "1e400", "NaN"])
def test_values_no_database_holds_are_refused_before_any_field_sees_them(api, value):
    body = json.dumps(source_spec())[:-1] + f', "jwks": {{"keys": [], "x": {value}}}}}'

    response = api.post(SERVICES, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] in ("invalid_json", "malformed_json")


@pytest.mark.django_db
def test_shallow_json_body_is_still_taken(api):
    response = api.post(SERVICES, source_spec(), format="json")

    assert response.status_code == 201
