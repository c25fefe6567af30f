"""A provider's first day, over real HTTP with a standard OAuth2 client."""

import re

import pytest
import requests
from django.core.management import call_command
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from tests.factories import PASSWORD, source_spec


def _create_provider() -> dict:
    from io import StringIO

    out = StringIO()
    call_command(
        "provider_create", "--organisation", "Askel Wearables Oy", "--business-id", "2345678-0",
        "--email", "privacy@askel.example.fi", "--username", "askel", stdout=out,
    )  # fmt: skip
    return dict(re.findall(r"^(client_id|client_secret|Password): (\S+)$", out.getvalue(), re.M))


@pytest.mark.django_db(transaction=True)
def test_provider_registers_and_staff_approval_publishes_it(
    live_server, data_types, staff, monkeypatch
):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the live server is http on loopback
    printed = _create_provider()
    oauth = OAuth2Session(client=BackendApplicationClient(client_id=printed["client_id"]))
    oauth.fetch_token(
        token_url=f"{live_server.url}/o/token/",
        client_id=printed["client_id"],
        client_secret=printed["client_secret"],
        scope=["services:read", "services:write"],
    )

    registered = oauth.post(f"{live_server.url}/api/v1/services", json=source_spec())
    assert registered.status_code == 201, registered.text
    service_id = registered.json()["id"]
    own = oauth.get(f"{live_server.url}/api/v1/organisation/services").json()
    assert [(s["id"], s["status"]) for s in own] == [(service_id, "pending")]
    assert requests.get(f"{live_server.url}/api/v1/services", timeout=5).json()["count"] == 0

    admin = requests.Session()
    login_page = admin.get(f"{live_server.url}/admin/login/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)[1]
    admin.post(
        f"{live_server.url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "staff", "password": PASSWORD},
        headers={"Referer": f"{live_server.url}/admin/login/"}, timeout=5,
    )  # fmt: skip
    changelist = admin.get(f"{live_server.url}/admin/registry/service/", timeout=5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', changelist.text)[1]
    approved = admin.post(
        f"{live_server.url}/admin/registry/service/",
        data={"csrfmiddlewaretoken": token, "action": "approve",
              "_selected_action": service_id, "index": 0},
        headers={"Referer": f"{live_server.url}/admin/registry/service/"}, timeout=5,
    )  # fmt: skip
    assert approved.status_code == 200

    public = requests.get(f"{live_server.url}/api/v1/services", timeout=5).json()
    assert [s["slug"] for s in public["results"]] == ["wearable"]
    assert (
        oauth.get(f"{live_server.url}/api/v1/services/{service_id}").json()["status"] == "approved"
    )


@pytest.mark.django_db(transaction=True)
def test_printed_password_logs_the_provider_in_to_its_page(live_server, client):
    printed = _create_provider()

    login = client.post("/accounts/login/", {"username": "askel", "password": printed["Password"]})
    assert login.status_code == 302
    page = client.get("/provider/")

    assert page.status_code == 200
    assert "Askel Wearables Oy" in page.content.decode()
    assert printed["client_id"] in page.content.decode()
