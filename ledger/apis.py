"""The public audit API: checkpoints and proofs of the receipt log.

Anyone may check that a receipt is in the log and that the log only grew;
the proofs hold hashes only, no receipt content.
"""

from typing import Any
from uuid import UUID

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from common.api import ApiView, ErrorOutput
from common.errors import Conflict
from common.throttles import AddressThrottle
from ledger import checkpoints
from ledger.log import log_consistency_proof, log_inclusion_proof, log_size
from ledger.merkle import leaf_hash
from ledger.models import Checkpoint, LogEntry


class CheckpointOutput(serializers.Serializer):
    tree_size = serializers.IntegerField()
    # The stubs take this for Field.root; DRF's metaclass takes declared fields off the class.
    root = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="base64 SHA-256 root hash"
    )
    created_at = serializers.DateTimeField()
    jws = serializers.CharField(help_text="the signed checkpoint")

    def get_root(self, checkpoint: Checkpoint) -> str:
        return checkpoints.b64(bytes.fromhex(checkpoint.root))


class PublicAuditApi(ApiView):
    permission_classes = [AllowAny]
    authentication_classes = []


class CheckpointSignThrottle(AddressThrottle):
    """Signing is work anyone may ask for: few per address (the scheduler signs anyway)."""

    scope = "checkpoint_sign"
    setting = "OMADATA_RATE_CHECKPOINT_SIGN"


class CheckpointApi(PublicAuditApi):
    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(CheckpointSignThrottle())
        return throttles

    @extend_schema(
        operation_id="audit_checkpoint_latest",
        responses={200: CheckpointOutput, 404: ErrorOutput},
    )
    def get(self, request: Request) -> Response:
        latest = checkpoints.checkpoint_latest()
        if latest is None:
            raise Http404
        return Response(CheckpointOutput(latest).data)

    @extend_schema(
        operation_id="audit_checkpoint_sign",
        request=None,
        responses={200: CheckpointOutput},
        description="Sign a checkpoint of the log as it is now (or return the latest one, "
        "if the log has not grown since).",
    )
    def post(self, request: Request) -> Response:
        return Response(CheckpointOutput(checkpoints.checkpoint_sign()).data)


class SizeInput(serializers.Serializer):
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
        params = SizeInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        entry = LogEntry.objects.filter(pk=receipt_id).only("id", "index", "data").first()
        if entry is None:
            raise Http404
        size = params.validated_data.get("tree_size") or _checkpointed_size()
        if entry.index >= size or size > log_size():
            raise Conflict(
                "not_in_tree",
                f"Receipt {entry.index} is not in a tree of {size} leaves; sign a "
                "newer checkpoint with POST /api/v1/audit/checkpoints.",
            )
        proof = log_inclusion_proof(index=entry.index, size=size)
        return Response(
            {
                "receipt": str(entry.id),
                "log_index": entry.index,
                "tree_size": size,
                "leaf_hash": checkpoints.b64(leaf_hash(entry.data.encode())),
                "proof": [checkpoints.b64(node) for node in proof],
            }
        )


def _checkpointed_size() -> int:
    latest = checkpoints.checkpoint_latest()
    if latest is None:
        raise Conflict("no_checkpoint", "No checkpoint yet: POST /api/v1/audit/checkpoints.")
    return latest.tree_size


class ConsistencyInput(serializers.Serializer):
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
        params = ConsistencyInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        first, second = params.validated_data["first"], params.validated_data["second"]
        if second > log_size():
            raise Conflict("not_in_tree", f"The log has fewer than {second} leaves.")
        proof = log_consistency_proof(old_size=first, new_size=second)
        return Response(
            {"first": first, "second": second, "proof": [checkpoints.b64(n) for n in proof]}
        )
