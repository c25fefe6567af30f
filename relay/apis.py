"""The transfer API for sinks: ask for a transfer under a consent, and follow it."""

from uuid import UUID

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ApiView, ErrorOutput, RequiresScope, StrictSerializer
from registry.access import caller_provider
from relay import selectors, services
from relay.models import Transfer, TransferAttempt, TransferPart

ERRORS = {code: ErrorOutput for code in (400, 401, 403, 404, 409, 413, 415, 422)}


class NotYourConsent(exceptions.PermissionDenied):
    error_code = "not_your_consent"
    default_detail = _("No consent to a sink of yours has this id.")


class TransferInput(StrictSerializer):
    consent = serializers.UUIDField(help_text="the consent to transfer under; its sink is yours")
    data_types = serializers.ListField(
        child=serializers.CharField(max_length=100), allow_empty=False, max_length=50,
        required=False, help_text="a part of the consent's data types (default: all of them)",
    )  # fmt: skip


class TransferAttemptOutput(serializers.Serializer):
    part = serializers.IntegerField(
        source="part.number", allow_null=True, default=None,
        help_text="the part tried; null for a try that stopped before any",
    )  # fmt: skip
    started = serializers.DateTimeField(source="started_at")
    finished = serializers.DateTimeField(source="finished_at")
    outcome = serializers.ChoiceField(TransferAttempt.Outcome.choices)
    http_status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(help_text="the operator's code; empty when none")


class TransferPartOutput(serializers.Serializer):
    number = serializers.IntegerField(help_text="the part's number in its run, from 1")
    source = serializers.UUIDField(source="source_id", help_text="the source it comes from")  # type: ignore[assignment]
    data_types = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(TransferPart.Status.choices)
    idempotency_key = serializers.CharField(help_text="the key it is delivered with")
    byte_count = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField(help_text="hex SHA-256 of the delivered body; empty until then")
    content_type = serializers.CharField()
    error_code = serializers.CharField(help_text="the operator's code; empty when none")
    delivered_at = serializers.DateTimeField(allow_null=True)


class TransferOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(Transfer.Status.choices)
    consent = serializers.UUIDField(source="consent_id")
    scheduled = serializers.BooleanField(
        help_text="made by the schedule of a recurring consent, not asked for by you"
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    byte_count = serializers.IntegerField(
        allow_null=True, help_text="the delivered parts' bytes, together"
    )
    sha256 = serializers.CharField(
        help_text="hex SHA-256 of the delivered body, when the run has one part; see `parts`"
    )
    content_type = serializers.CharField(help_text="likewise")
    error_code = serializers.CharField()
    parts = TransferPartOutput(many=True, help_text="one per source, each delivered on its own")
    attempts = TransferAttemptOutput(source="attempt_rows", many=True)


class TransferConflictOutput(ErrorOutput):
    transfer = serializers.UUIDField(
        required=False,
        help_text="with `transfer_in_progress`: the consent's unfinished transfer",
    )

    class Meta:
        ref_name = "TransferConflict"


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Repeat a request safely: the same key with the same body returns the same "
    "transfer (200); with another body, 422.",
)  # fmt: skip


def _idempotency_key(request: Request) -> str:
    """The request's Idempotency-Key: at most 200 characters of printable ASCII.

    It is stored with the transfer: a NUL would fail that write on PostgreSQL,
    and other control characters have no business in a key.
    """
    key = request.headers.get("Idempotency-Key", "").strip()
    problem = None
    if len(key) > 200:
        problem = serializers.ErrorDetail("At most 200 characters.", "too_long")
    elif any(not " " <= char <= "~" for char in key):
        problem = serializers.ErrorDetail("Printable ASCII characters only.", "invalid")
    if problem is not None:
        raise serializers.ValidationError({"Idempotency-Key": [problem]})
    return key


class TransferCollectionApi(ApiView):
    required_scopes = {"POST": "transfers:write"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="transfers_create",
        parameters=[IDEMPOTENCY_KEY],
        request=TransferInput,
        responses={202: TransferOutput, 200: TransferOutput, **ERRORS, 409: TransferConflictOutput},
        description="Ask the operator to relay the consent's data from its sources to your "
        "sink: one run, with a part per source, each delivered with its own Idempotency-Key "
        "`<transfer id>.<part number>`. The data types are the consent's, or the part of them "
        "named in `data_types` (and so only the sources that give them). "
        "Answers 202 with the transfer; follow it at "
        "`/api/v1/transfers/{id}` or by the `transfer.*` notifications. One transfer at a "
        "time under a consent: while one is unfinished, another is 409 "
        "`transfer_in_progress` naming it in `transfer`.",
    )
    def post(self, request: Request) -> Response:
        provider = caller_provider(request)
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = _idempotency_key(request)
        consent = selectors.consent_for_sink(
            organisation=provider.organisation, consent_id=data.validated_data["consent"]
        )
        if consent is None:
            raise NotYourConsent()
        transfer, created = services.transfer_request(
            consent=consent, organisation=provider.organisation, idempotency_key=key or None,
            data_types=data.validated_data.get("data_types"),
        )  # fmt: skip
        transfer = selectors.transfer_access_for_sink(
            organisation=provider.organisation, transfer_id=transfer.id
        )
        return Response(
            TransferOutput(transfer).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )


class TransferDetailApi(ApiView):
    required_scopes = {"GET": ("transfers:read", "transfers:write")}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="transfers_read",
        responses={200: TransferOutput, **ERRORS},
        description="A transfer to one of your sinks: its status, every try, and its outcome.",
    )
    def get(self, request: Request, transfer_id: UUID) -> Response:
        provider = caller_provider(request)
        transfer = selectors.transfer_access_for_sink(
            organisation=provider.organisation, transfer_id=transfer_id
        )
        return Response(TransferOutput(transfer).data)
