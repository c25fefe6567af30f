"""Every form that changes something refuses a request without its CSRF token.

Each form is sent as a browser would send it, read from the page that shows
it, with everything right but the token: left out, or one from another
session. Sent with its own token, the same request does what it says, so the
refusal is the token check's and nothing else's.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from common.correlation import request_id_reset, request_id_set
from consent import services as consent_services
from consent.models import ConsentRequest, ServiceLink
from omadata.views import csrf_failure
from registry.models import Service
from tests.factories import PASSWORD
from tests.world import World

pytestmark = pytest.mark.django_db


def hidden(page: str, name: str) -> str:
    """The value of the page's hidden input `name`."""
    return re.search(rf'name="{name}" value="([^"]+)"', page)[1]


@dataclass(frozen=True)
class Form:
    """A form that a persona sends from a page, and what sending it changes."""

    persona: str
    page: Callable[[World], str]
    action: Callable[[World], str]
    # What the form reads: `changed` before and after sending must differ.
    changed: Callable[[World, Client], object]
    # The form's fields, read from the page as the browser has it.
    fields: Callable[[World, str], dict] = field(default=lambda world, page: {})
    prepare: Callable[[World], object] | None = None


def _status(model, pk) -> Callable[[World, Client], object]:
    return lambda world, client: model.objects.filter(pk=pk(world)).values_list("status").first()


def _logged_in(world: World, client: Client) -> bool:
    return "_auth_user_id" in client.session


def _my_consent(action: str) -> Form:
    return Form(
        persona="aino",
        page=lambda w: f"/my/consents/{w.consent.pk}",
        action=lambda w: f"/my/consents/{w.consent.pk}/{action}",
        changed=lambda w, client: type(w.consent).objects.get(pk=w.consent.pk).status,
        prepare=(lambda w: consent_services.consent_pause(consent=w.consent))
        if action == "resume"
        else None,
    )


FORMS = {
    "consent answer": Form(
        persona="aino",
        page=lambda w: f"/consent/requests/{w.open_request.pk}",
        action=lambda w: f"/consent/requests/{w.open_request.pk}/answer",
        fields=lambda w, page: {
            "answer": "approve",
            "notice_sha256": hidden(page, "notice_sha256"),
        },
        changed=_status(ConsentRequest, lambda w: w.open_request.pk),
    ),
    "link start": Form(
        persona="eero",
        page=lambda w: f"/consent/requests/{w.open_request.pk}",
        action=lambda w: f"/consent/requests/{w.open_request.pk}/link",
        changed=lambda w, client: ServiceLink.objects.filter(resident__username="eero").count(),
    ),
    "consent pause": _my_consent("pause"),
    "consent resume": _my_consent("resume"),
    "consent withdrawal": _my_consent("withdraw"),
    "link removal": Form(
        persona="aino",
        page=lambda w: "/my/consents",
        action=lambda w: f"/my/links/{w.link.pk}/remove",
        changed=_status(ServiceLink, lambda w: w.link.pk),
    ),
    "credential creation": Form(
        persona="sink_browser",
        page=lambda w: "/provider/",
        action=lambda w: "/provider/credentials",
        fields=lambda w, page: {"name": "nightly export"},
        changed=lambda w, client: type(w.credential).objects.filter(name="nightly export").count(),
    ),
    "credential revocation": Form(
        persona="sink_browser",
        page=lambda w: "/provider/",
        action=lambda w: f"/provider/credentials/{w.credential.pk}/revoke",
        changed=lambda w, client: type(w.credential).objects.filter(pk=w.credential.pk).count(),
    ),
    "logout": Form(
        persona="aino",
        page=lambda w: "/my/consents",
        action=lambda w: "/accounts/logout/",
        changed=_logged_in,
    ),
    "login": Form(
        persona="anonymous",
        page=lambda w: "/accounts/login/",
        action=lambda w: "/accounts/login/",
        fields=lambda w, page: {"username": "aino", "password": PASSWORD},
        changed=_logged_in,
    ),
    "language": Form(
        persona="anonymous",
        page=lambda w: "/",
        action=lambda w: "/i18n/setlang/",
        fields=lambda w, page: {"language": "sv", "next": "/"},
        changed=lambda w, client: client.cookies.get("django_language"),
    ),
    "service approval in the admin": Form(
        persona="staff",
        page=lambda w: "/admin/registry/service/",
        action=lambda w: "/admin/registry/service/",
        fields=lambda w, page: {
            "action": "approve",
            "_selected_action": str(w.pending.pk),
            "index": "0",
        },
        changed=_status(Service, lambda w: w.pending.pk),
    ),
}


def browser(world: World, persona: str) -> Client:
    """A client that checks CSRF tokens as the site does for a browser."""
    client = Client(enforce_csrf_checks=True)
    user = world.personas[persona].user
    if user is not None:
        client.force_login(user)
    return client


def open_form(world: World, form: Form) -> tuple[Client, dict, str]:
    """Log in, open the page, and fill the form: the client, the fields and the page's token."""
    if form.prepare:
        form.prepare(world)
    client = browser(world, form.persona)
    page = client.get(form.page(world))
    assert page.status_code == 200
    text = page.content.decode()
    return client, form.fields(world, text), hidden(text, "csrfmiddlewaretoken")


@pytest.mark.parametrize("name", FORMS)
def test_form_without_csrf_token_is_refused_and_changes_nothing(name, world):
    form = FORMS[name]
    client, fields, _token = open_form(world, form)
    before = form.changed(world, client)

    response = client.post(form.action(world), fields)

    assert response.status_code == 403
    assert form.changed(world, client) == before


@pytest.mark.parametrize("name", FORMS)
def test_form_with_another_sessions_csrf_token_is_refused_and_changes_nothing(name, world):
    form = FORMS[name]
    client, fields, _token = open_form(world, form)
    others_token = hidden(
        Client(enforce_csrf_checks=True).get("/accounts/login/").content.decode(),
        "csrfmiddlewaretoken",
    )
    before = form.changed(world, client)

    response = client.post(form.action(world), {**fields, "csrfmiddlewaretoken": others_token})

    assert response.status_code == 403
    assert form.changed(world, client) == before


@pytest.mark.parametrize("name", FORMS)
def test_form_with_its_csrf_token_does_what_it_says(name, world):
    form = FORMS[name]
    client, fields, token = open_form(world, form)
    before = form.changed(world, client)

    response = client.post(form.action(world), {**fields, "csrfmiddlewaretoken": token})

    assert response.status_code in (200, 302)
    assert form.changed(world, client) != before


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_a_refused_form_gets_a_page_in_the_residents_language_with_the_request_id(world, language):
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        "/accounts/login/",
        {"username": "aino", "password": PASSWORD},
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 403
    page = response.content.decode()
    with translation.override(language):
        heading = gettext("The form could not be sent")
    assert language == "en" or heading != "The form could not be sent"  # translated
    assert f"<h1>{heading}</h1>" in page
    assert f'<html lang="{language}">' in page
    assert f"<code>{response['X-Request-ID']}</code>" in page
    assert "_auth_user_id" not in client.session


def test_a_refused_api_request_gets_the_apis_json_with_the_request_id(rf):
    token = request_id_set("0123456789abcdef0123456789abcdef")
    try:
        response = csrf_failure(rf.post("/api/v1/services"), reason="CSRF cookie not set.")
    finally:
        request_id_reset(token)

    assert response.status_code == 403
    assert json.loads(response.content) == {
        "code": "csrf_failed",
        "message": "The request was refused: it carried no valid CSRF token.",
        "fields": [],
        "request_id": "0123456789abcdef0123456789abcdef",
    }
