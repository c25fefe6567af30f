"""The audit API: the receipt log's leaves, checkpoints, proofs and keys.

Anyone may check that a receipt is in the log and that the log only grew:
checkpoints, proofs and the key history are public, and hold hashes and public
keys only. The receipts themselves (pseudonymous, but about residents) are
for auditors' API clients, by the `audit:read` scope; so is signing a
checkpoint on demand (the scheduler signs one anyway).
"""

import base64
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from common.api import ApiView, ErrorOutput, RequiresScope, StrictSerializer
from common.errors import Conflict
from common.throttles import AddressThrottle
from ledger import checkpoints
from ledger.access import AUDIT_SCOPE, is_auditor
from ledger.bundles import BUNDLE_MAX, BundleRangeError, audit_bundle
from ledger.log import log_consistency_proof, log_inclusion_proof, log_size
from ledger.merkle import leaf_hash
from ledger.models import Checkpoint, LogEntry, LogNode, SigningKey

# The most receipts or checkpoints one answer holds: a range is walked in pages.
RANGE_MAX = 1000


class CheckpointOutput(serializers.Serializer):
    tree_size = serializers.IntegerField()
    # The stubs take this for Field.root; DRF's metaclass takes declared fields off the class.
    root = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="base64 SHA-256 root hash"
    )
    created_at = serializers.DateTimeField()
    jws = serializers.CharField(help_text="the signed checkpoint")

    def get_root(self, checkpoint: Checkpoint) -> str:
        try:
            return checkpoints.b64(bytes.fromhex(checkpoint.root))
        except ValueError:  # a row changed behind the code: shown as it is, for a verifier to see
            return checkpoint.root


class PublicAuditApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes = []


class NotAnAuditor(exceptions.PermissionDenied):
    error_code = "not_an_auditor"
    default_detail = _("These credentials do not belong to an auditor.")


class AuditorScope(RequiresScope):
    """The view's scope (`audit:read`), held by a client whose owner is an auditor now.

    The owner is checked on every call, not only when the token was issued: a
    revoked auditor's tokens stop working at once.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in getattr(view, "public_methods", ()):
            return True
        super().has_permission(request, view)
        application = getattr(request.auth, "application", None)
        if not is_auditor(getattr(application, "user", None)):
            raise NotAnAuditor()
        return True


class AuditorApi(ApiView):
    permission_classes = [AuditorScope]


class CheckpointSignThrottle(AddressThrottle):
    """Signing is work: a few per address, auditors' included (the scheduler signs anyway)."""

    scope = "checkpoint_sign"
    setting = "OMADATA_RATE_CHECKPOINT_SIGN"


class CheckpointListInput(StrictSerializer):
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="only checkpoints of more leaves than this"
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=RANGE_MAX, help_text="at most this many (100)"
    )


class CheckpointPageOutput(serializers.Serializer):
    checkpoints = CheckpointOutput(many=True)
    next = serializers.CharField(allow_null=True, help_text="the next page, if any")


class CheckpointCollectionApi(AuditorApi):
    public_methods = ("GET", "HEAD", "OPTIONS")
    required_scopes = {"POST": AUDIT_SCOPE}

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(CheckpointSignThrottle())
        return throttles

    @extend_schema(
        operation_id="audit_checkpoint_list",
        parameters=[CheckpointListInput],
        responses={200: CheckpointPageOutput, 400: ErrorOutput},
        description="Every signed checkpoint, oldest first, by tree size: walk with `after`.",
    )
    def get(self, request: Request) -> Response:
        params = _query(CheckpointListInput, request)
        after, limit = params.get("after", 0), params.get("limit", 100)
        rows = list(
            Checkpoint.objects.filter(tree_size__gt=after).order_by("tree_size")[: limit + 1]
        )
        more = len(rows) > limit
        rows = rows[:limit]
        following = None
        if more:
            following = request.build_absolute_uri(
                f"{request.path}?after={rows[-1].tree_size}&limit={limit}"
            )
        return Response({"checkpoints": CheckpointOutput(rows, many=True).data, "next": following})

    @extend_schema(
        operation_id="audit_checkpoint_sign",
        request=None,
        responses={200: CheckpointOutput, 401: ErrorOutput, 403: ErrorOutput},
        description="Sign a checkpoint of the log as it is now (or return the latest one, "
        "if the log has not grown since). For auditors' clients.",
    )
    def post(self, request: Request) -> Response:
        return Response(CheckpointOutput(checkpoints.checkpoint_sign()).data)


class CheckpointLatestApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_checkpoint_latest",
        responses={200: CheckpointOutput, 404: ErrorOutput},
    )
    def get(self, request: Request) -> Response:
        latest = checkpoints.checkpoint_latest()
        if latest is None:
            raise Http404
        return Response(CheckpointOutput(latest).data)


class CheckpointDetailApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_checkpoint_detail",
        responses={200: CheckpointOutput, 404: ErrorOutput},
        description="The checkpoint signed at this tree size, if one was.",
    )
    def get(self, request: Request, tree_size: int) -> Response:
        checkpoint = Checkpoint.objects.filter(tree_size=tree_size).first()
        if checkpoint is None:
            raise Http404
        return Response(CheckpointOutput(checkpoint).data)


class KeyOutput(serializers.Serializer):
    kid = serializers.CharField()
    public_jwk = serializers.JSONField(help_text="the public key, as in the JWKS")
    created_at = serializers.DateTimeField(help_text="signing with it began")
    retired_at = serializers.DateTimeField(
        allow_null=True, help_text="signing with it ended; null while it signs"
    )


class KeyHistoryOutput(serializers.Serializer):
    keys = KeyOutput(many=True)


class KeyHistoryApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_key_history",
        responses={200: KeyHistoryOutput},
        description="Every key the operator has signed with, oldest first, with when it was "
        "in use. A receipt verifies only with a key that was in use when it was signed.",
    )
    def get(self, request: Request) -> Response:
        rows = SigningKey.objects.order_by("created_at", "kid")
        return Response({"keys": KeyOutput(rows, many=True).data})


class ReceiptOutput(serializers.Serializer):
    id = serializers.UUIDField()
    log_index = serializers.IntegerField(
        source="index", allow_null=True,
        help_text="null while the receipt waits for the log's sequencer, which integrates "
        "it within the maximum merge delay of the discovery document",
    )  # fmt: skip
    integrated = serializers.SerializerMethodField(
        help_text="whether the receipt is in the tree, so that an inclusion proof exists"
    )
    jws = serializers.CharField(source="data", help_text="the receipt, a compact JWS")
    created_at = serializers.DateTimeField()

    def get_integrated(self, entry: LogEntry) -> bool:
        return entry.index is not None


class LogRangeInput(StrictSerializer):
    """Log indexes `start` to `end - 1`: at least one, at most `most`."""

    most = RANGE_MAX
    start = serializers.IntegerField(min_value=0, help_text="the first log index")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not 0 < data["end"] - data["start"] <= self.most:
            raise _field_error(
                "end", "invalid_range", _("end must be after start, by at most %(max)d.")
                % {"max": self.most},
            )  # fmt: skip
        return data


class ReceiptRangeInput(LogRangeInput):
    end = serializers.IntegerField(
        min_value=1, help_text=f"one past the last log index; at most {RANGE_MAX} after start"
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(data)
        size = log_size()
        if data["end"] > size:
            raise _field_error(
                "end", "past_the_log", _("The log has %(size)d receipts.") % {"size": size}
            )
        return data


class ReceiptRangeOutput(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    tree_size = serializers.IntegerField(help_text="the log's size now")
    receipts = ReceiptOutput(many=True)


class ReceiptRangeApi(AuditorApi):
    required_scopes = {"GET": AUDIT_SCOPE}

    @extend_schema(
        operation_id="audit_receipt_range",
        parameters=[ReceiptRangeInput],
        responses={200: ReceiptRangeOutput, 400: ErrorOutput, 401: ErrorOutput, 403: ErrorOutput},
        description="The receipts at log indexes `start` to `end - 1`, in log order.",
    )
    def get(self, request: Request) -> Response:
        params = _query(ReceiptRangeInput, request)
        start, end = params["start"], params["end"]
        rows = LogEntry.objects.filter(index__gte=start, index__lt=end).order_by("index")
        return Response(
            {
                "start": start,
                "end": end,
                "tree_size": log_size(),
                "receipts": ReceiptOutput(rows, many=True).data,
            }
        )


class ReceiptDetailApi(AuditorApi):
    required_scopes = {"GET": AUDIT_SCOPE}

    @extend_schema(
        operation_id="audit_receipt_detail",
        responses={200: ReceiptOutput, 401: ErrorOutput, 403: ErrorOutput, 404: ErrorOutput},
    )
    def get(self, request: Request, receipt_id: UUID) -> Response:
        entry = LogEntry.objects.filter(pk=receipt_id).first()
        if entry is None:
            raise Http404
        return Response(ReceiptOutput(entry).data)


class BundleInput(LogRangeInput):
    most = BUNDLE_MAX
    end = serializers.IntegerField(
        min_value=1, help_text=f"one past the last log index; at most {BUNDLE_MAX} after start"
    )


class AuditBundleApi(AuditorApi):
    required_scopes = {"GET": AUDIT_SCOPE}

    @extend_schema(
        operation_id="audit_bundle",
        parameters=[BundleInput],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            400: ErrorOutput, 401: ErrorOutput, 403: ErrorOutput, 409: ErrorOutput,
        },
        description="The audit bundle of the receipts at log indexes `start` to `end - 1`: "
        "the receipts, the checkpoints that cover them, proofs and the key history, for "
        "`omadata-verify bundle`. Its format is in the auditors' guide.",
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        params = _query(BundleInput, request)
        start, end = params["start"], params["end"]
        try:
            bundle = audit_bundle(start=start, end=end)
        except BundleRangeError as error:
            if error.code == "no_checkpoint":
                raise Conflict("no_checkpoint", str(error)) from None
            raise _field_error("end", "past_the_log", str(error)) from None
        response = Response(bundle)
        response["Content-Disposition"] = (
            f'attachment; filename="omadata-audit-{start}-{end - 1}.json"'
        )
        return response


def _query(serializer: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The query string, validated: a parameter the view does not know is a 400."""
    params = serializer(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def _field_error(field: str, code: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [serializers.ErrorDetail(message, code)]})


class SizeInput(StrictSerializer):
    tree_size = serializers.IntegerField(required=False, min_value=1)


class InclusionOutput(serializers.Serializer):
    receipt = serializers.UUIDField()
    log_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())


class InclusionProofApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_inclusion_proof",
        parameters=[SizeInput],
        responses={200: InclusionOutput, 400: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput},
        description="An RFC 6962 inclusion proof of a receipt in the tree of `tree_size` "
        "leaves (default: the latest checkpoint's). Leaf = SHA-256(0x00 || compact JWS).",
    )
    def get(self, request: Request, receipt_id: UUID) -> Response:
        params = _query(SizeInput, request)
        entry = LogEntry.objects.filter(pk=receipt_id).only("id", "index", "data").first()
        if entry is None:
            raise Http404
        return Response(_inclusion(entry, params.get("tree_size")))


class LeafInclusionInput(SizeInput):
    leaf_hash = serializers.CharField(
        max_length=64, help_text="base64 SHA-256(0x00 || compact JWS), as in the proofs"
    )

    def validate_leaf_hash(self, value: str) -> bytes:
        try:
            digest = base64.b64decode(value, validate=True)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise serializers.ValidationError(
                _("Give the leaf hash as base64 of 32 bytes."), code="invalid_leaf_hash"
            )
        return digest


class LeafInclusionApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_inclusion_proof_by_leaf_hash",
        parameters=[LeafInclusionInput],
        responses={200: InclusionOutput, 400: ErrorOutput, 404: ErrorOutput, 409: ErrorOutput},
        description="The inclusion proof of the receipt whose leaf hash is `leaf_hash`: for "
        "an auditor who holds a receipt but not its id.",
    )
    def get(self, request: Request) -> Response:
        params = _query(LeafInclusionInput, request)
        index = (
            LogNode.objects.filter(level=0, hash=params["leaf_hash"])
            .values_list("index", flat=True)
            .first()
        )
        if index is None:
            raise Http404
        entry = LogEntry.objects.filter(index=index).only("id", "index", "data").first()
        if entry is None:
            raise Http404
        return Response(_inclusion(entry, params.get("tree_size")))


def _inclusion(entry: LogEntry, tree_size: int | None) -> dict[str, Any]:
    if entry.index is None:
        raise Conflict(
            "not_integrated",
            f"Receipt {entry.id} waits for the log's sequencer, which integrates every "
            f"receipt within {settings.OMADATA_LOG_MERGE_DELAY:g} seconds of its issue: "
            "ask again then.",
        )
    size = tree_size or _checkpointed_size()
    if entry.index >= size or size > log_size():
        raise Conflict(
            "not_in_tree",
            f"Receipt {entry.index} is not in a tree of {size} leaves: ask again once a "
            "newer checkpoint is signed.",
        )
    proof = log_inclusion_proof(index=entry.index, size=size)
    return {
        "receipt": str(entry.id),
        "log_index": entry.index,
        "tree_size": size,
        "leaf_hash": checkpoints.b64(leaf_hash(entry.data.encode())),
        "proof": [checkpoints.b64(node) for node in proof],
    }


def _checkpointed_size() -> int:
    latest = checkpoints.checkpoint_latest()
    if latest is None:
        raise Conflict("no_checkpoint", "No checkpoint yet: the scheduler signs one soon.")
    return latest.tree_size


class ConsistencyInput(StrictSerializer):
    first = serializers.IntegerField(min_value=1)
    second = serializers.IntegerField(min_value=1)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["first"] > data["second"]:
            raise serializers.ValidationError(
                {"first": [serializers.ErrorDetail("first must not exceed second.", "invalid")]}
            )
        return data


class ConsistencyOutput(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    proof = serializers.ListField(child=serializers.CharField())


class ConsistencyProofApi(PublicAuditApi):
    @extend_schema(
        operation_id="audit_consistency_proof",
        parameters=[ConsistencyInput],
        responses={200: ConsistencyOutput, 400: ErrorOutput, 409: ErrorOutput},
        description="An RFC 6962 proof that the tree of `second` leaves extends the tree of "
        "`first` leaves.",
    )
    def get(self, request: Request) -> Response:
        params = _query(ConsistencyInput, request)
        first, second = params["first"], params["second"]
        if second > log_size():
            raise Conflict("not_in_tree", f"The log has fewer than {second} leaves.")
        proof = log_consistency_proof(old_size=first, new_size=second)
        return Response(
            {"first": first, "second": second, "proof": [checkpoints.b64(n) for n in proof]}
        )
