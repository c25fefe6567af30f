"""The consent API for services: ask for consent, read consents and receipts, confirm links."""

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ApiView, ErrorOutput, ReadableText, RequiresScope, StrictSerializer
from common.pagination import BoundedLimitOffsetPagination, PageInput, page_of
from consent import selectors, services
from consent.models import Consent, ConsentRequest, Frequency, Period, PurposeCategory
from registry.access import caller_provider
from registry.models import Service

ERRORS = {code: ErrorOutput for code in (400, 401, 403, 404, 409, 413, 415)}


class PurposeInput(StrictSerializer):
    fi = ReadableText(max_length=1000, paragraphs=True)
    sv = ReadableText(max_length=1000, paragraphs=True)
    en = ReadableText(max_length=1000, paragraphs=True)


@extend_schema_serializer(deprecate_fields=["frequency"])
class FrequencyInput(StrictSerializer):
    kind = serializers.ChoiceField(Frequency.choices)
    # The name of `kind` before 0.2, still taken; answers say `kind`.
    frequency = serializers.ChoiceField(
        Frequency.choices, required=False, allow_null=True, help_text="the same as `kind`"
    )
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    period = serializers.ChoiceField(Period.choices, required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and "kind" not in data and data.get("frequency") is not None:
            data = {**data, "kind": data["frequency"]}
        return super().to_internal_value(data)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        legacy = data.pop("frequency", None)
        if legacy is not None and legacy != data["kind"]:
            message = str(_("`kind` and `frequency` differ."))
            raise serializers.ValidationError(
                {"kind": [serializers.ErrorDetail(message, "invalid")]}
            )
        return data


def _data_type_keys(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100), allow_empty=False, max_length=50, **kwargs
    )


class SourcePartInput(StrictSerializer):
    # The stubs take this for Field.source; DRF's metaclass takes declared fields off the class.
    source = serializers.UUIDField(help_text="a source service's id")  # type: ignore[assignment]
    data_types = _data_type_keys(help_text="the data types wanted from this source")


class ConsentRequestInput(StrictSerializer):
    sink = serializers.UUIDField(help_text="your sink service's id")
    sources = serializers.ListField(
        child=SourcePartInput(), required=False, allow_empty=False, max_length=50,
        help_text="the sources, each with the data types wanted from it: one consent, one "
        "decision, one transfer run that fetches from each (at most "
        f"{settings.OMADATA_MAX_CONSENT_SOURCES})",
    )  # fmt: skip
    # The one-source form, from before consents could join several: still taken.
    source = serializers.UUIDField(  # type: ignore[assignment]  # as above
        required=False, help_text="one source's id; use `sources` instead"
    )
    data_types = _data_type_keys(required=False, help_text="with `source`")
    purpose = PurposeInput()
    purpose_category = serializers.ChoiceField(PurposeCategory.choices)
    valid_until = serializers.DateTimeField()
    frequency = FrequencyInput()
    # Not trimmed: the service refuses whitespace in a URL rather than guess at it.
    return_url = serializers.CharField(max_length=2000, trim_whitespace=False)
    state = serializers.CharField(
        max_length=500, required=False, allow_blank=True,
        help_text="comes back with the answer; bind it to the browser that starts the request",
    )  # fmt: skip
    subject_reference = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="your own id for the account at your sink that asks",
    )  # fmt: skip
    subject_label = ReadableText(
        max_length=100, required=False, allow_blank=True,
        help_text="that account's name as its holder knows it (a user name, an email "
        "address), shown to the resident on the consent screen; one line of plain text",
    )  # fmt: skip

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        one = "source" in data or "data_types" in data
        if ("sources" in data) == one or (one and not {"source", "data_types"} <= data.keys()):
            message = str(_("Name the sources in `sources` (or one in `source` and `data_types`)."))
            raise serializers.ValidationError(
                {"sources": [serializers.ErrorDetail(message, "sources_required")]}
            )
        if one:
            data["sources"] = [{"source": data["source"], "data_types": data.pop("data_types")}]
        return data


class SourcePartOutput(serializers.Serializer):
    source = serializers.UUIDField(source="service_id")  # type: ignore[assignment]  # as above
    data_types = serializers.ListField(child=serializers.CharField())


class TermsOutput(serializers.Serializer):
    sources = serializers.SerializerMethodField()
    source = serializers.SerializerMethodField(  # type: ignore[assignment]  # as above
        help_text="the source's id when there is one; null when there are several (deprecated: "
        "read `sources`)"
    )
    sink = serializers.UUIDField(source="sink_id")
    data_types = serializers.SerializerMethodField(help_text="every source's, together")
    purpose = serializers.SerializerMethodField()
    purpose_category = serializers.CharField()
    valid_until = serializers.DateTimeField()
    frequency = serializers.SerializerMethodField()

    @extend_schema_field(SourcePartOutput(many=True))
    def get_sources(self, obj: Consent | ConsentRequest) -> list:
        return SourcePartOutput(obj.source_parts(), many=True).data  # type: ignore[return-value]

    def get_source(self, obj: Consent | ConsentRequest) -> str | None:
        parts = obj.source_parts()
        return str(parts[0].service_id) if len(parts) == 1 else None

    def get_data_types(self, obj: Consent | ConsentRequest) -> list[str]:
        return sorted(t.key for t in obj.data_types.all())

    def get_purpose(self, obj: Consent | ConsentRequest) -> dict:
        return obj.terms()["purpose"]

    def get_frequency(self, obj: Consent | ConsentRequest) -> dict:
        return obj.terms()["frequency"]


class ConsentRequestOutput(TermsOutput):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(ConsentRequest.Status.choices)
    url = serializers.SerializerMethodField(help_text="send the resident here")
    expires_at = serializers.DateTimeField()
    consent = serializers.SerializerMethodField()
    state = serializers.CharField()
    subject_reference = serializers.CharField()
    subject_label = serializers.CharField()

    def get_url(self, request: ConsentRequest) -> str:
        return settings.BASE_URL + reverse("consent-screen", args=[request.id])

    def get_consent(self, request: ConsentRequest) -> str | None:
        consent = getattr(request, "consent", None) if request.status == "approved" else None
        return str(consent.id) if consent else None


class ReceiptOutput(serializers.Serializer):
    id = serializers.UUIDField(source="pk")
    event = serializers.CharField()
    log_index = serializers.IntegerField(
        source="entry.index", allow_null=True,
        help_text="null until the log's sequencer integrates the receipt, within the "
        "maximum merge delay of the discovery document",
    )  # fmt: skip
    created_at = serializers.DateTimeField(source="entry.created_at")
    jws = serializers.CharField(source="entry.data")


class ConsentOutput(TermsOutput):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(Consent.Status.choices)
    created_at = serializers.DateTimeField()
    status_changed_at = serializers.DateTimeField()
    language = serializers.CharField()
    notice_sha256 = serializers.CharField()
    request = serializers.UUIDField(source="request_id")
    subject_reference = serializers.SerializerMethodField(
        help_text="the `subject_reference` of the request this consent answers, to the "
        "sink's organisation only (null to the source's). Attribute the consent to that "
        "account only when its answer came back in the browser that started the request."
    )
    superseded_by = serializers.UUIDField(source="superseded_by_id", allow_null=True)

    def get_subject_reference(self, consent: Consent) -> str | None:
        # The sink's own id for its user: the source must not learn it, or the two could
        # match residents through it.
        if consent.sink.organisation_id != self.context["organisation"].pk:
            return None
        return consent.request.subject_reference


class ConsentDetailOutput(ConsentOutput):
    receipts = serializers.SerializerMethodField()

    @extend_schema(responses=ReceiptOutput(many=True))
    def get_receipts(self, consent: Consent) -> list:
        # many=True makes a ListSerializer, whose data is a list; the stubs do not model that.
        receipts = selectors.receipts_of(consent, organisation=self.context["organisation"])
        return ReceiptOutput(receipts, many=True).data  # type: ignore[return-value]


class ConsentRequestCollectionApi(ApiView):
    required_scopes = {"POST": "consents:request"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="consent_requests_create",
        request=ConsentRequestInput,
        responses={201: ConsentRequestOutput, **ERRORS},
        description="Ask for a resident's consent on behalf of one of your sinks. Send the "
        "resident to `url`; they come back to `return_url` with `consent_id` (or "
        "`error=access_denied`) and your `state`. Take the answer only if that `state` is one "
        "you bound to this browser when it started the request, and only if the consent's "
        "`request` is that request: anyone can forward the `url` to someone else.",
    )
    def post(self, request: Request) -> Response:
        provider = caller_provider(request)
        data = ConsentRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        sink = Service.objects.filter(
            pk=data.validated_data["sink"], organisation=provider.organisation
        ).first()
        if sink is None:
            # Someone else's service, or none: the same answer, so nothing leaks.
            raise serializers.ValidationError(
                {
                    "sink": [
                        serializers.ErrorDetail("No service of yours has this id.", "unknown_sink")
                    ]
                }
            )
        created = services.consent_request_create(sink=sink, spec=data.validated_data)
        return Response(ConsentRequestOutput(created).data, status=status.HTTP_201_CREATED)


class ConsentRequestDetailApi(ApiView):
    required_scopes = {"GET": "consents:request"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="consent_requests_read",
        responses={200: ConsentRequestOutput, **ERRORS},
    )
    def get(self, request: Request, request_id: UUID) -> Response:
        provider = caller_provider(request)
        found = selectors.request_access_for_sink(
            organisation=provider.organisation, request_id=request_id
        )
        return Response(ConsentRequestOutput(found).data)


class ConsentFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(Consent.Status.choices, required=False)


class ConsentCollectionApi(ApiView):
    required_scopes = {"GET": "consents:read"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="consents_list",
        parameters=[ConsentFilterInput, PageInput],
        responses={200: page_of(ConsentOutput), **ERRORS},
        description="Consents whose source or sink is one of your services, newest first, "
        "a page at a time.",
    )
    def get(self, request: Request) -> Response:
        provider = caller_provider(request)
        filters = ConsentFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        consents = selectors.consent_list_for_organisation(
            organisation=provider.organisation, **filters.validated_data
        )
        paginator = BoundedLimitOffsetPagination()
        page = paginator.paginate_queryset(consents, request, view=self)
        context = {"organisation": provider.organisation}
        return paginator.get_paginated_response(
            ConsentOutput(page, many=True, context=context).data
        )


class ConsentDetailApi(ApiView):
    required_scopes = {"GET": "consents:read"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="consents_read",
        responses={200: ConsentDetailOutput, **ERRORS},
        description="A consent's status, terms and signed receipts (compact JWS; verify them "
        "with /.well-known/jwks.json).",
    )
    def get(self, request: Request, consent_id: UUID) -> Response:
        provider = caller_provider(request)
        consent = selectors.consent_access_for_organisation(
            organisation=provider.organisation, consent_id=consent_id
        )
        context = {"organisation": provider.organisation}
        return Response(ConsentDetailOutput(consent, context=context).data)


class LinkConfirmInput(StrictSerializer):
    service = serializers.UUIDField(help_text="your service that the resident links to")
    token = serializers.CharField(max_length=8000, help_text="the link_token you were sent")
    reference = serializers.CharField(
        max_length=200, help_text="your own opaque reference for the resident"
    )


class LinkOutput(serializers.Serializer):
    id = serializers.UUIDField(source="link.id")
    service = serializers.UUIDField(source="link.service_id")
    subject = serializers.CharField(
        source="link.subject", help_text="the resident's pairwise id at your service"
    )
    status = serializers.CharField(
        source="link.status",
        help_text="`pending`: the link becomes active when the resident's browser arrives at "
        "`return_url`",
    )
    confirmed_at = serializers.DateTimeField(source="link.confirmed_at")
    return_url = serializers.SerializerMethodField(
        help_text="send the resident's browser here: it carries a single-use code, valid "
        "for minutes, that makes the link when the session that started it comes back"
    )

    def get_return_url(self, confirmed: services.LinkConfirmed) -> str:
        query = urlencode({"code": confirmed.code})
        return f"{settings.BASE_URL}{reverse('link-return')}?{query}"


class LinkConfirmApi(ApiView):
    required_scopes = {"POST": "links:write"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="links_confirm",
        request=LinkConfirmInput,
        responses={201: LinkOutput, **ERRORS},
        description="Confirm a resident's account link with the single-use token the operator "
        "sent them to you with, then send the resident's browser to the answer's `return_url` "
        "(not to the token's `return_to`). The link becomes active, and transfers can use it, "
        "only when that browser arrives in the Omadata session that started the link.",
    )
    def post(self, request: Request) -> Response:
        provider = caller_provider(request)
        data = LinkConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        service = Service.objects.filter(
            pk=data.validated_data["service"], organisation=provider.organisation
        ).first()
        if service is None:
            raise serializers.ValidationError(
                {
                    "service": [
                        serializers.ErrorDetail(
                            "No service of yours has this id.", "unknown_service"
                        )
                    ]
                }
            )
        confirmed = services.link_confirm(
            service=service, token=data.validated_data["token"],
            reference=data.validated_data["reference"],
        )  # fmt: skip
        return Response(LinkOutput(confirmed).data, status=status.HTTP_201_CREATED)
