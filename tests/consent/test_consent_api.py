"""The consent API as sinks and sources use it."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentRequest, Receipt
from consent.receipts import receipt_verify
from tests.factories import api_as, make_provider, register_service, source_spec

pytestmark = pytest.mark.django_db
ALL = "services:read consents:request consents:read links:write"


def body(source, sink, **changes) -> dict:
    data = {
        "sink": str(sink.id),
        "source": str(source.id),
        "data_types": ["wellbeing.steps"],
        "purpose": {"fi": "Liikunta.", "sv": "Motion.", "en": "Exercise."},
        "purpose_category": "wellbeing",
        "valid_until": (timezone.now() + timedelta(days=30)).isoformat(),
        "frequency": {"kind": "one_off"},
        "return_url": "https://sink.example.fi/back",
        "state": "s-123",
    }
    data.update(changes)
    return data


def test_sink_asks_for_consent_and_gets_the_url_to_send_the_resident_to(
    sink_provider, wellbeing, wearable
):
    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing), format="json"
    )

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "open"
    assert created["url"].endswith(f"/consent/requests/{created['id']}")
    assert created["state"] == "s-123"


def test_another_organisation_cannot_ask_on_behalf_of_the_sink(
    source_provider, wellbeing, wearable
):
    response = api_as(source_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "unknown_sink"
    assert not ConsentRequest.objects.exists()


def test_asking_without_the_scope_is_403(sink_provider, wellbeing, wearable):
    response = api_as(sink_provider, "services:read").post(
        "/api/v1/consent-requests", body(wearable, wellbeing), format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_asking_from_an_unapproved_source_is_refused(
    sink_provider, source_provider, wellbeing, wearable, data_types
):
    pending = register_service(source_provider, source_spec(slug="pending-watch"))

    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(pending, wellbeing), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "unknown_source"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"data_types": ["city.contact_details"]}, "data_types", "not_offered"),
        ({"return_url": "https://evil.example.fi/"}, "return_url", "unresolvable_host"),
        ({"return_url": "https://wearable.example.fi/x"}, "return_url", "foreign_origin"),
        ({"frequency": {"kind": "recurring"}}, "frequency", "invalid"),
        ({"frequency": {"limit": 1, "period": "day"}}, "frequency.kind", "required"),
        ({"frequency": {"kind": "one_off", "frequency": "recurring"}}, "frequency.kind", "invalid"),
        ({"frequency": {"kind": "sometimes"}}, "frequency.kind", "invalid_choice"),
        ({"purpose_category": "marketing"}, "purpose_category", "invalid_choice"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_bad_requests_are_refused_with_the_field_at_fault(
    sink_provider, wellbeing, wearable, changes, field, code
):
    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, **changes), format="json"
    )

    assert response.status_code == 400
    assert (field, code) in [(f["field"], f["code"]) for f in response.json()["fields"]]
    assert not ConsentRequest.objects.exists()


def test_return_url_is_stored_with_non_ascii_percent_encoded(sink_provider, wellbeing, wearable):
    changes = {"return_url": "https://sink.example.fi/takaisin-ä?kieli=ö"}

    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, **changes), format="json"
    )

    assert response.status_code == 201, response.content
    expected = "https://sink.example.fi/takaisin-%C3%A4?kieli=%C3%B6"
    assert ConsentRequest.objects.get().return_url == expected


@pytest.mark.parametrize(
    "url",
    ["https://sink.example.fi/back\t", " https://sink.example.fi/back", "https://sink.example.fi/b\nack",
     "https://sink.example.fi/b\x7fack", "https://sink.example.fi/b\u2028ack"],
)  # fmt: skip
def test_return_url_with_whitespace_or_a_control_character_is_a_400(
    sink_provider, wellbeing, wearable, url
):
    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, return_url=url), format="json"
    )

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        ("return_url", "invalid_url")
    ]
    assert not ConsentRequest.objects.exists()


@pytest.mark.parametrize(
    "frequency",
    [
        {"kind": "recurring", "limit": 2, "period": "week"},
        {"frequency": "recurring", "limit": 2, "period": "week"},
        {"kind": "recurring", "frequency": "recurring", "limit": 2, "period": "week"},
        {"kind": "recurring", "frequency": None, "limit": 2, "period": "week"},
    ],
)
def test_frequency_is_read_as_kind_or_by_its_old_name_and_answered_as_kind(
    sink_provider, wellbeing, wearable, frequency
):
    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, frequency=frequency), format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["frequency"] == {"kind": "recurring", "limit": 2, "period": "week"}


def test_the_request_keeps_the_account_it_is_for_and_its_label(sink_provider, wellbeing, wearable):
    api = api_as(sink_provider, ALL)
    changes = {"subject_reference": "espoo-user-17", "subject_label": "  aino.v@example.fi "}

    created = api.post(
        "/api/v1/consent-requests", body(wearable, wellbeing, **changes), format="json"
    ).json()
    again = api.get(f"/api/v1/consent-requests/{created['id']}").json()

    for answer in (created, again):
        assert answer["subject_reference"] == "espoo-user-17"
        assert answer["subject_label"] == "aino.v@example.fi"


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("x" * 101, "max_length"),
        ("aino\nvirtanen", "unprintable_character"),
        ("\u202eif.elpmaxe@onia", "unprintable_character"),  # shows as "aino@example.fi"
        ("a\u200bb", "unprintable_character"),
        ("tab\there", "unprintable_character"),
    ],
    ids=["too long", "newline", "bidi override", "zero width space", "tab"],
)
def test_a_label_that_is_not_one_short_line_of_plain_text_is_refused(
    sink_provider, wellbeing, wearable, label, code
):
    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, subject_label=label), format="json"
    )

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [("subject_label", code)]
    assert not ConsentRequest.objects.exists()


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x1b", "\u2028"])
def test_a_purpose_with_an_unprintable_character_is_refused(
    sink_provider, wellbeing, wearable, language, char
):
    purpose = {"fi": "Liikunta.", "sv": "Motion.", "en": "Exercise.", language: f"Liik{char}unta."}

    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, purpose=purpose), format="json"
    )

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        (f"purpose.{language}", "unprintable_character")
    ]
    assert not ConsentRequest.objects.exists()


def test_a_purpose_may_have_paragraphs(sink_provider, wellbeing, wearable):
    purpose = {"fi": "Liikunta.\n\nEi muuta.", "sv": "Motion.", "en": "Exercise.\nNothing else."}

    response = api_as(sink_provider, ALL).post(
        "/api/v1/consent-requests", body(wearable, wellbeing, purpose=purpose), format="json"
    )

    assert response.status_code == 201
    assert response.json()["purpose"] == purpose


def test_only_the_sink_reads_the_account_a_consent_was_asked_for(
    sink_provider, source_provider, consent
):
    def read(provider) -> list[dict]:
        api = api_as(provider, ALL)
        return [api.get(f"/api/v1/consents/{consent.id}").json(),
                *api.get("/api/v1/consents").json()["results"]]  # fmt: skip

    assert [c["subject_reference"] for c in read(sink_provider)] == ["espoo-user-17"] * 2
    # The sink's own id for its user would let the source match residents with the sink.
    assert [c["subject_reference"] for c in read(source_provider)] == [None] * 2


def test_source_and_sink_read_the_consent_with_its_receipt(sink_provider, source_provider, consent):
    for provider in (sink_provider, source_provider):
        response = api_as(provider, ALL).get(f"/api/v1/consents/{consent.id}")

        assert response.status_code == 200
        receipt = response.json()["receipts"][0]
        assert receipt["event"] == "consent.granted"
        assert receipt_verify(receipt["jws"])["omadata"]["consent_id"] == str(consent.id)


def test_a_third_organisation_gets_404_for_the_consent(consent):
    stranger = make_provider(name="Muu Oy", business_id="1572860-0", username="muu")

    response = api_as(stranger, ALL).get(f"/api/v1/consents/{consent.id}")

    assert response.status_code == 404


def test_consent_list_filters_by_status(sink_provider, consent):
    api = api_as(sink_provider, ALL)
    services.consent_pause(consent=consent)

    paused = api.get("/api/v1/consents?status=paused").json()["results"]
    assert [c["id"] for c in paused] == [str(consent.id)]
    assert api.get("/api/v1/consents?status=active").json()["results"] == []
    assert api.get("/api/v1/consents?status=happy").status_code == 400


def test_source_confirms_a_link_through_the_api(source_provider, wearable, aino, settings):
    token = services.link_start(resident=aino, service=wearable, return_to="https://x/back").token

    response = api_as(source_provider, ALL).post(
        "/api/v1/links",
        {"service": str(wearable.id), "token": token, "reference": "owner-1"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["status"] == "pending"
    assert answer["return_url"].startswith(f"{settings.BASE_URL}/consent/links/return?code=")
    assert not Receipt.objects.filter(event="link.created").exists()


def test_a_replayed_link_token_is_refused(source_provider, wearable, aino):
    started = services.link_start(resident=aino, service=wearable, return_to="https://x/back")
    payload = {"service": str(wearable.id), "token": started.token, "reference": "r"}
    api = api_as(source_provider, ALL)
    api.post("/api/v1/links", payload, format="json")

    response = api.post("/api/v1/links", payload, format="json")

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "token_used"


def test_a_link_token_cannot_be_confirmed_for_someone_elses_service(sink_provider, wearable, aino):
    started = services.link_start(resident=aino, service=wearable, return_to="https://x/back")

    response = api_as(sink_provider, ALL).post(
        "/api/v1/links",
        {"service": str(wearable.id), "token": started.token, "reference": "r"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["code"] == "unknown_service"


def test_inclusion_and_consistency_proofs_verify(client, consent):
    from ledger import merkle
    from ledger.apis import CheckpointOutput
    from ledger.checkpoints import b64, checkpoint_sign

    services.consent_pause(consent=consent)
    first = CheckpointOutput(checkpoint_sign()).data
    services.consent_resume(consent=consent)
    second = CheckpointOutput(checkpoint_sign()).data
    receipt = consent.receipts.order_by(*Receipt.IN_ORDER).first()

    inclusion = client.get(f"/api/v1/audit/receipts/{receipt.pk}/inclusion").json()
    consistency = client.get(
        "/api/v1/audit/consistency", {"first": first["tree_size"], "second": second["tree_size"]}
    ).json()

    unb64 = base64.b64decode
    merkle.verify_inclusion(
        leaf_hash=unb64(inclusion["leaf_hash"]), index=inclusion["log_index"],
        size=second["tree_size"], proof=[unb64(p) for p in inclusion["proof"]],
        root=unb64(second["root"]),
    )  # fmt: skip
    merkle.verify_consistency(
        old_size=first["tree_size"], new_size=second["tree_size"],
        old_root=unb64(first["root"]), new_root=unb64(second["root"]),
        proof=[unb64(p) for p in consistency["proof"]],
    )  # fmt: skip
    assert b64(merkle.leaf_hash(receipt.jws.encode())) == inclusion["leaf_hash"]


def deep_token(header_json: str, payload: bytes = b"{}") -> str:
    """A compact JWS whose header is `header_json`, as a forger would send it."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{part(header_json.encode())}.{part(payload)}.{part(b'sig')}"


@pytest.mark.parametrize(
    "header",
    ["[" * 2_000 + "]" * 2_000, '{"a":' * 600 + "1" + "}" * 600],
    ids=["arrays-2000", "objects-600"],
)
def test_a_link_token_with_deep_json_is_400_token_invalid_json(source_provider, wearable, header):
    response = api_as(source_provider, ALL).post(
        "/api/v1/links",
        {"service": str(wearable.id), "token": deep_token(header), "reference": "r"},
        format="json",
    )

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        ("token", "token_invalid_json")
    ]


@pytest.mark.parametrize("depth", [2_000, 100_000])
@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
def test_a_link_token_with_deep_json_is_refused_at_the_token_field(
    source_provider, wearable, settings, depth, objects
):
    # Room for the largest: the token's own bounds, not the body's, must refuse it.
    settings.OMADATA_MAX_REQUEST_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
    header = '{"a":' * depth + "1" + "}" * depth if objects else "[" * depth + "]" * depth

    response = api_as(source_provider, ALL).post(
        "/api/v1/links",
        {"service": str(wearable.id), "token": deep_token(header), "reference": "r"},
        format="json",
    )

    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == ["token"]
    assert response.json()["fields"][0]["code"] in ("token_invalid_json", "max_length")


def test_a_consent_read_takes_five_statements_with_its_token_check(
    sink_provider, consent, django_assert_max_num_queries
):
    """The token with its client, owner and organisation; the consent; its data types; its
    sources; its receipts, however many: nothing is read once per receipt, per data type
    or per source. The next read with the same token finds it in the cache."""
    services.consent_pause(consent=consent)
    services.consent_resume(consent=consent)
    api = api_as(sink_provider, ALL)

    with django_assert_max_num_queries(5):
        first = api.get(f"/api/v1/consents/{consent.id}")
    with django_assert_max_num_queries(4):
        again = api.get(f"/api/v1/consents/{consent.id}")

    assert first.status_code == again.status_code == 200
    assert len(first.json()["receipts"]) == 3
    assert again.json() == first.json()
