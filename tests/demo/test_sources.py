"""The city sources of the demo: Espoo's sports services and Helsinki's resident records.

Each answers the operator's fetch only with a token the operator signed for it, about a
subject linked at it, for data types it offers, as the Askel watch does.
"""

import time
import uuid

import pytest
from django.contrib.auth import get_user_model

from ledger import jws
from tests.demo.world import SOURCES, get, link_at

pytestmark = pytest.mark.django_db(transaction=True)
RETURN_TO = "http://127.0.0.1:9/consent/screen"
# Per source: the data type a test asks for, and one it does not offer.
ASKED = {
    "sports": ("sports.visits", "city.address_history"),
    "helsinki": ("city.address_history", "sports.visits"),
}


def link_aino(world, source: str) -> str:
    """Aino links her account at the source through its pages: her pairwise subject there."""
    aino = get_user_model().objects.get(username="aino")
    return link_at(world, aino, getattr(world, source), return_to=RETURN_TO).subject


def claims(world, source: str, subject: str, **changes) -> dict:
    now = int(time.time())
    service = getattr(world, source)
    signed = {
        "iss": world.operator, "aud": str(service.id), "sub": subject,
        "consent_id": str(uuid.uuid4()), "transfer_id": str(uuid.uuid4()),
        "data_types": [ASKED[source][0]], "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120,
        "part": 2, "parts": 2,
    }  # fmt: skip
    return signed | changes


def fetch(world, source: str, token: str):
    path = SOURCES[getattr(world, source).slug].path
    return get(f"{world.url}{path}data", headers={"Authorization": f"Bearer {token}"})


def signed(claims: dict) -> str:
    return jws.sign(claims, typ="transfer+jwt")


def test_sports_answers_visits_per_day(demo_world):
    subject = link_aino(demo_world, "sports")

    answer = fetch(demo_world, "sports", signed(claims(demo_world, "sports", subject)))

    assert answer.status_code == 200, answer.text
    days = answer.json()["sports.visits"]
    assert list(answer.json()) == ["sports.visits"]
    assert len(days) == 7
    assert all(set(day) == {"date", "swims", "gym_visits"} for day in days)
    assert all(0 <= day["swims"] <= 1 and 0 <= day["gym_visits"] <= 1 for day in days)


def test_sports_answers_blood_pressure_alone_when_only_it_is_requested(demo_world):
    subject = link_aino(demo_world, "sports")
    asked = claims(demo_world, "sports", subject, data_types=["health.blood_pressure"])

    answer = fetch(demo_world, "sports", signed(asked))

    assert list(answer.json()) == ["health.blood_pressure"]
    assert all(100 <= m["systolic"] < 150 for m in answer.json()["health.blood_pressure"])


def test_helsinki_answers_the_address_history_and_library_loans(demo_world):
    subject = link_aino(demo_world, "helsinki")
    asked = claims(
        demo_world, "helsinki", subject, data_types=["city.address_history", "library.loans"]
    )

    answer = fetch(demo_world, "helsinki", signed(asked))

    assert answer.status_code == 200, answer.text
    addresses = answer.json()["city.address_history"]
    assert [a["district"] for a in addresses] == ["Vallila", "Kallio"]
    assert addresses[-1]["to"] is None  # she lives there until she moves
    assert len(answer.json()["library.loans"]) == 3


@pytest.mark.parametrize("source", ["sports", "helsinki"])
@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("expired", lambda w, s: {"exp": int(time.time()) - 1}),
        ("the other city source's audience", lambda w, s: {
            "aud": str((w.helsinki if s == "sports" else w.sports).id)}),
        ("the watch's audience", lambda w, s: {"aud": str(w.wearable.id)}),
        ("another issuer", lambda w, s: {"iss": "http://127.0.0.1:9"}),
    ],
)  # fmt: skip
def test_data_refuses_a_token_not_for_this_source(demo_world, source, why, change):
    subject = link_aino(demo_world, source)
    token = signed(claims(demo_world, source, subject, **change(demo_world, source)))

    answer = fetch(demo_world, source, token)

    assert answer.status_code == 401, why
    assert ASKED[source][0] not in answer.text


@pytest.mark.parametrize("source", ["sports", "helsinki"])
def test_data_refuses_a_subject_linked_at_another_source(demo_world, source):
    link_aino(demo_world, source)
    elsewhere = link_aino(demo_world, "helsinki" if source == "sports" else "sports")

    answer = fetch(demo_world, source, signed(claims(demo_world, source, elsewhere)))

    assert answer.status_code == 403
    assert answer.json()["code"] == "unknown_subject"


@pytest.mark.parametrize("source", ["sports", "helsinki"])
def test_data_refuses_a_subject_never_linked(demo_world, source):
    link_aino(demo_world, source)

    answer = fetch(demo_world, source, signed(claims(demo_world, source, "someone-else")))

    assert answer.status_code == 403


@pytest.mark.parametrize("source", ["sports", "helsinki"])
def test_data_refuses_types_the_source_does_not_offer(demo_world, source):
    subject = link_aino(demo_world, source)
    asked = claims(demo_world, source, subject, data_types=[ASKED[source][1]])

    answer = fetch(demo_world, source, signed(asked))

    assert answer.status_code == 403
    assert answer.json()["code"] == "data_types_not_offered"


@pytest.mark.parametrize("source", ["sports", "helsinki"])
def test_a_link_at_the_source_is_listed_on_its_page_only(demo_world, source):
    subject = link_aino(demo_world, source)
    path = SOURCES[getattr(demo_world, source).slug].path

    page = get(f"{demo_world.url}{path}").text
    watch = get(f"{demo_world.url}/wearable/").text

    assert subject[:12] in page
    assert subject[:12] not in watch
