"""Every URL pattern answers every persona and method as tests/omadata/authorization.py says.

The patterns come from the URL configuration itself, the admin's and OAuth2's
and i18n's included, so a new URL fails here until the table has its row.
"""

import re
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import URLResolver, get_resolver, resolve

from tests.omadata.authorization import (
    ADMIN_LOGIN,
    ADMIN_METHODS,
    ADMIN_MODELS,
    LOGIN,
    METHODS,
    PARAMETERS,
    PERSONAS,
    TABLE,
    VARIANTS,
    admin_rows,
)

pytestmark = pytest.mark.django_db


def _join(prefix: str, pattern: object) -> str:
    # As Django joins them into ResolverMatch.route: a regex's leading ^ is dropped.
    text = str(pattern)
    return prefix + (text[1:] if text.startswith("^") else text)


def _walk(patterns: list, prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, _join(prefix, pattern.pattern))
        else:
            routes.append(_join(prefix, pattern.pattern))
    return routes


ROUTES = _walk(get_resolver().url_patterns)
ROWS = {
    **TABLE,
    **{key: row for label in ADMIN_MODELS for key, row in admin_rows(label).items()},
}
ADMIN_MODEL_ROUTES = {key for label in ADMIN_MODELS for key in admin_rows(label)}


def _keys(route: str) -> list[str]:
    """The table's names for a pattern: the pattern, or one per variant of it."""
    return [f"{route} [{name}]" for name in VARIANTS[route]] if route in VARIANTS else [route]


KEYS = [key for route in ROUTES for key in _keys(route)]


def _route(key: str) -> str:
    return key.split(" [")[0] if key.endswith("]") and " [" in key else key


def _parameters(key: str, world) -> dict:
    route = _route(key)
    variant = key[len(route) + 2 : -1] if key != route else None
    fill = {**PARAMETERS, **(VARIANTS[route][variant] if variant else {})}
    names = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)
    values = {name: fill[name](world) for pair in names for name in pair if name}
    admin_model = re.match(r"admin/(\w+)/(\w+)/<path:object_id>/", route)
    if admin_model:
        values["object_id"] = world.admin_objects[apps.get_model(*admin_model.groups())].pk
    return values


def _path(route: str, values: dict) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m[1]]), route).rstrip("$")
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m[1]]), path)


def _missing(values: dict) -> dict:
    """The same parameters, with every object's id one that nothing has."""
    unknown = {uuid.UUID: lambda: uuid.uuid4(), int: lambda: 2**31 - 1}
    return {name: unknown.get(type(value), lambda v=value: v)() for name, value in values.items()}


def _expected(row: dict, persona: str, method: str):
    answers = [
        answer
        for who, answer in row.items()
        if persona in ((who,) if isinstance(who, str) else who)
    ]
    assert len(answers) == 1, f"{persona} is named {len(answers)} times in the row"
    answer = answers[0]
    if not isinstance(answer, dict):
        return answer
    by_method = {m: status for methods, status in answer.items() for m in methods.split()}
    return by_method.get(method, by_method.get("*"))


def _observed(response):
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN_LOGIN
    return response.status_code


def _body(response, path: str) -> str:
    """The body, with what differs between two renders of one page taken out."""
    text = response.content.decode(errors="replace").replace(path, "<path>")
    # Every answer names its own request id, in its JSON error body or on its error page.
    text = text.replace(response["X-Request-ID"], "<request id>")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text)


def _send(world_request, client, method: str, path: str):
    body = {}
    if method in ("POST", "PUT", "PATCH") and path.startswith("/api/"):
        # An empty JSON object: enough to pass the parser and meet the validation.
        body = {"data": "{}", "content_type": "application/json"}
    return world_request(client, method, path, **body)


# -- the table fits the URL configuration ---------------------------------------------------


def test_every_url_pattern_has_a_row():
    missing = [key for key in KEYS if key not in ROWS]

    assert not missing, "Add a row to tests/omadata/authorization.py for: " + ", ".join(missing)


def test_every_row_names_a_url_pattern():
    assert not set(ROWS) - set(KEYS)


def test_every_model_in_the_admin_has_its_rights_written_down():
    shown = {m._meta.label_lower for m in apps.get_models() if admin.site.is_registered(m)}

    assert shown == set(ADMIN_MODELS)


@pytest.mark.parametrize("key", sorted(ROWS))
def test_every_row_names_every_persona_once(key):
    named = [p for who in ROWS[key] for p in ((who,) if isinstance(who, str) else who)]

    assert sorted(named) == sorted(PERSONAS)


# -- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_pattern_answers_every_persona_as_the_table_says(key, world, clients, world_request):
    assert key in ROWS, f"no row in tests/omadata/authorization.py for {key}"
    route, row = _route(key), ROWS[key]
    values = _parameters(key, world)
    path = _path(route, values)
    assert resolve(path).route == route, f"{path} is not served by {route}"
    methods = ADMIN_METHODS if key in ADMIN_MODEL_ROUTES else METHODS
    hidden = route.startswith(("api/", "consent/", "my/", "provider/")) and values
    unknown_path = _path(route, _missing(values)) if hidden else None
    wrong = []
    for persona in PERSONAS:
        for method in methods:
            expected = _expected(row, persona, method)
            response = _send(world_request, clients[persona], method, path)
            got = _observed(response)
            if got != expected:
                wrong.append(f"{persona} {method} {path}: expected {expected}, got {got}")
                continue
            if unknown_path is None or expected not in (403, 404):
                continue
            # Refused an object that exists, or one that does not: the same answer.
            other = _send(world_request, clients[persona], method, unknown_path)
            if (other.status_code, _body(other, unknown_path)) != (got, _body(response, path)):
                wrong.append(
                    f"{persona} {method} {path}: {got}, but {other.status_code} or "
                    "another body for an object that does not exist"
                )

    assert not wrong, "\n".join(wrong)


# What an auditor may POST and see succeed: their own session and language, and a
# checkpoint signed on demand (the log's own statement, which changes no evidence).
AUDITOR_WRITES = {
    "i18n/setlang/", "accounts/login/", "accounts/logout/", "admin/login/", "admin/logout/",
    "api/v1/audit/checkpoints",
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(TABLE))
def test_the_auditor_can_write_nothing(key):
    row = TABLE[key]
    for persona in ("auditor", "auditor_api"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            expected = _expected(row, persona, method)
            succeeds = isinstance(expected, int) and 200 <= expected < 400
            assert not succeeds or key in AUDITOR_WRITES, (persona, method, expected)
