"""The wellbeing sink takes a transfer over two sources in parts, and joins them per day.

Each part comes with its own token (`part`, `parts`, `source`) and the key
`<transfer id>.<part>`: the sink keeps each once, tells the sources apart by the
token's `source`, groups the parts by `transfer_id`, and shows the days joined.
"""

import base64
import hashlib
import json
import time
import uuid

import pytest

from ledger import jws
from tests.demo.world import post

pytestmark = pytest.mark.django_db(transaction=True)
DAYS = ["2026-11-26", "2026-11-27"]
STEPS = {"wellbeing.steps": [{"date": DAYS[0], "steps": 8123}, {"date": DAYS[1], "steps": 4567}]}
VISITS = {
    "sports.visits": [
        {"date": DAYS[0], "swims": 1, "gym_visits": 0},
        {"date": DAYS[1], "swims": 0, "gym_visits": 1},
    ]
}


def source_claim(service) -> dict:
    return {"id": str(service.id), "slug": service.slug, "organisation": service.organisation.name}


def part_headers(world, *, transfer_id: str, consent_id: str, part: int | None, parts: int | None,
                 source, body: bytes, key: str | None = None) -> dict:  # fmt: skip
    now = int(time.time())
    claims = {
        "iss": world.operator, "aud": str(world.wellbeing.id), "sub": "sink-subject",
        "consent_id": consent_id, "transfer_id": transfer_id,
        "data_types": sorted(json.loads(body)),
        "jti": str(uuid.uuid4()), "iat": now, "exp": now + 120,
    }  # fmt: skip
    if part is not None:
        claims |= {"part": part, "parts": parts}
    if source is not None:
        claims["source"] = source_claim(source)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    default_key = transfer_id if part is None else f"{transfer_id}.{part}"
    return {
        "Authorization": f"Bearer {jws.sign(claims, typ='transfer+jwt')}",
        "Idempotency-Key": default_key if key is None else key,
        "Content-Type": "application/json", "Content-Digest": f"sha-256=:{digest}:",
    }  # fmt: skip


def deliver_part(world, body: dict, **token):
    data = json.dumps(body).encode()
    return post(f"{world.url}/wellbeing/deliver", data=data,
                headers=part_headers(world, body=data, **token))  # fmt: skip


@pytest.fixture
def consent_id(demo_world, participant) -> str:
    """A two-source consent that the participant's browser brought back."""
    consent_id = str(uuid.uuid4())
    demo_world.store.consent_attach(
        consent_id=consent_id, account=participant.account, status="active",
        sources=[source_claim(demo_world.wearable), source_claim(demo_world.sports)],
    )  # fmt: skip
    return consent_id


def both_parts(world, consent_id: str, transfer_id: str) -> list:
    return [
        deliver_part(world, STEPS, transfer_id=transfer_id, consent_id=consent_id, part=1,
                     parts=2, source=world.wearable),
        deliver_part(world, VISITS, transfer_id=transfer_id, consent_id=consent_id, part=2,
                     parts=2, source=world.sports),
    ]  # fmt: skip


def test_two_parts_of_a_transfer_are_joined_per_day(demo_world, participant, consent_id):
    transfer_id = str(uuid.uuid4())

    answers = both_parts(demo_world, consent_id, transfer_id)

    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    page = participant.page(demo_world)
    # date, steps, swims, gym visits
    assert "<tr><td>2026-11-26</td><td>8123</td><td>1</td><td>0</td></tr>" in page
    assert "<tr><td>2026-11-27</td><td>4567</td><td>0</td><td>1</td></tr>" in page
    assert f"transfer {transfer_id}: 2 of 2 parts received" in page


def test_each_part_is_named_by_its_source(demo_world, participant, consent_id):
    transfer_id = str(uuid.uuid4())

    both_parts(demo_world, consent_id, transfer_id)

    page = participant.page(demo_world)
    assert "part 1 of 2: Askel Wearables Oy (wearable)" in page
    assert "part 2 of 2: Espoon kaupunki (espoo-sports)" in page
    assert "2 days, 12690 steps" in page
    assert "2 days, 1 swims, 1 gym visits" in page


def test_a_part_delivered_again_is_kept_once(demo_world, participant, consent_id):
    transfer_id = str(uuid.uuid4())
    both_parts(demo_world, consent_id, transfer_id)

    again = both_parts(demo_world, consent_id, transfer_id)

    assert [a.json()["status"] for a in again] == ["already_received"] * 2
    keys = sorted(d["idempotency_key"] for d in demo_world.store.deliveries())
    assert keys == [f"{transfer_id}.1", f"{transfer_id}.2"]
    assert f"transfer {transfer_id}: 2 of 2 parts received" in participant.page(demo_world)


def test_a_transfer_with_one_part_arrived_shows_what_it_has(demo_world, participant, consent_id):
    transfer_id = str(uuid.uuid4())

    deliver_part(demo_world, VISITS, transfer_id=transfer_id, consent_id=consent_id, part=2,
                 parts=2, source=demo_world.sports)  # fmt: skip

    page = participant.page(demo_world)
    assert "<tr><td>2026-11-26</td><td>-</td><td>1</td><td>0</td></tr>" in page
    assert f"transfer {transfer_id}: 1 of 2 parts received" in page


def test_the_days_are_those_of_the_newest_transfer(demo_world, participant, consent_id):
    both_parts(demo_world, consent_id, str(uuid.uuid4()))
    newer = str(uuid.uuid4())
    later = {"wellbeing.steps": [{"date": "2026-11-28", "steps": 999}]}

    deliver_part(demo_world, later, transfer_id=newer, consent_id=consent_id, part=1, parts=2,
                 source=demo_world.wearable)  # fmt: skip

    page = participant.page(demo_world)
    assert "<tr><td>2026-11-28</td><td>999</td><td>-</td><td>-</td></tr>" in page
    assert "<td>2026-11-26</td><td>8123</td>" not in page


def test_a_whole_transfer_from_one_source_is_still_taken(demo_world, participant, consent_id):
    transfer_id = str(uuid.uuid4())

    answer = deliver_part(demo_world, STEPS, transfer_id=transfer_id, consent_id=consent_id,
                          part=None, parts=None, source=None)  # fmt: skip

    assert answer.status_code == 200, answer.text
    page = participant.page(demo_world)
    assert "<tr><td>2026-11-26</td><td>8123</td><td>-</td><td>-</td></tr>" in page


@pytest.mark.parametrize(
    ("part", "parts", "key"),
    [
        (1, 2, "{t}"),  # a part keyed as the whole transfer
        (1, 2, "{t}.2"),  # another part's key
        (None, None, "{t}.1"),  # a whole transfer keyed as a part
    ],
)
def test_a_key_that_is_not_the_parts_own_is_refused(demo_world, consent_id, part, parts, key):
    transfer_id = str(uuid.uuid4())

    answer = deliver_part(demo_world, STEPS, transfer_id=transfer_id, consent_id=consent_id,
                          part=part, parts=parts, source=demo_world.wearable,
                          key=key.format(t=transfer_id))  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_idempotency_key"
    assert demo_world.store.deliveries() == []


@pytest.mark.parametrize(("part", "parts"), [(0, 2), (3, 2), (1, None), (True, 2), ("1", 2)])
def test_a_part_numbered_wrongly_is_refused(demo_world, consent_id, part, parts):
    transfer_id = str(uuid.uuid4())

    answer = deliver_part(demo_world, STEPS, transfer_id=transfer_id, consent_id=consent_id,
                          part=part, parts=parts, source=demo_world.wearable,
                          key=f"{transfer_id}.{part}")  # fmt: skip

    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_part"
    assert demo_world.store.deliveries() == []


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_the_days_table_speaks_the_residents_language(demo_world, participant, consent_id, lang):
    both_parts(demo_world, consent_id, str(uuid.uuid4()))

    page = participant.session.get(f"{demo_world.url}/wellbeing/?lang={lang}", timeout=10).text

    heads = {"fi": ["päivä", "askeleet", "uintikäynnit"], "sv": ["datum", "steg", "simbesök"]}
    assert all(f'<th scope="col">{head}</th>' in page for head in heads[lang])
