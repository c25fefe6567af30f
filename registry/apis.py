"""The registry's REST API: register and manage services; the public registry."""

import hashlib
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ApiView, ErrorOutput, ReadableText, RequiresScope, StrictSerializer
from common.pagination import BoundedLimitOffsetPagination, PageInput, page_of
from registry import selectors, services
from registry.access import caller_provider
from registry.generation import generation_kept, remembered
from registry.models import DataType, Service

ERRORS = {code: ErrorOutput for code in (400, 401, 403, 404, 413, 415)}
# Pages of the public registry a process keeps, rendered, per registry generation:
# enough for every page and filter clients ask for, bounded whatever they send.
PUBLIC_PAGES_KEPT = 256


def _texts(max_length: int, *, paragraphs: bool) -> type[StrictSerializer]:
    class LocalizedTextInput(StrictSerializer):
        fi = ReadableText(max_length=max_length, paragraphs=paragraphs)
        sv = ReadableText(max_length=max_length, paragraphs=paragraphs)
        en = ReadableText(max_length=max_length, paragraphs=paragraphs)

    LocalizedTextInput.__name__ = f"LocalizedText{max_length}Input"
    return LocalizedTextInput


NameInput, DescriptionInput = _texts(200, paragraphs=False), _texts(2000, paragraphs=True)
LogicInput = _texts(4000, paragraphs=True)
RetentionInput = _texts(1000, paragraphs=True)
_RETENTION_HELP = (
    "what the service, as a sink, does with data it already received once a resident "
    "withdraws consent, and how long it keeps it; shown to residents on the consent screen"
)


def _url_input(**kwargs: Any) -> serializers.CharField:
    """A URL field. Whitespace is kept, not trimmed, so that the service refuses it:
    a URL with a stray tab or line break is a mistake to report, not to guess at."""
    return serializers.CharField(max_length=2000, trim_whitespace=False, **kwargs)


class DataTypeKeys(serializers.ListField):
    child = serializers.CharField(max_length=100)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_empty=False, max_length=50, **kwargs)


class SourceInput(StrictSerializer):
    fetch_url = _url_input()
    link_url = _url_input(help_text="where the operator sends a resident to link their account")
    data_types = DataTypeKeys()


class SinkInput(StrictSerializer):
    delivery_url = _url_input()
    data_types = DataTypeKeys()


class TransparencyInput(StrictSerializer):
    automated_decisions = serializers.BooleanField()
    profiling = serializers.BooleanField()
    algorithm_register_url = _url_input(required=False, allow_blank=True, allow_null=True)


class AlgorithmListInput(serializers.ListSerializer):
    """A service's algorithms: refused as a whole past the limit, before each is read."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and len(data) > services.MAX_ALGORITHMS:
            raise serializers.ValidationError(
                [
                    serializers.ErrorDetail(
                        services.too_many_algorithms(), code="too_many_algorithms"
                    )
                ]
            )
        return super().to_internal_value(data)


class AlgorithmInput(StrictSerializer):
    """One algorithm the service uses for automated decisions or profiling."""

    name = NameInput()
    purpose = DescriptionInput()
    data_types = DataTypeKeys(help_text="data types it uses: ones the service offers or accepts")
    logic = LogicInput(help_text="how it reaches its result, in plain words")
    human_oversight = DescriptionInput(help_text="who checks its results, and how")
    non_discrimination = DescriptionInput(help_text="what keeps it from discriminating")
    register_url = _url_input(help_text="its entry in the city's algorithm register (https)")

    class Meta:
        list_serializer_class = AlgorithmListInput


class ServiceRegisterInput(StrictSerializer):
    slug = serializers.SlugField(max_length=60)
    name = NameInput()
    description = DescriptionInput()
    privacy_policy_url = _url_input()
    # The stubs take this for Field.source; DRF's metaclass takes declared fields off the class.
    source = SourceInput(required=False, allow_null=True)  # type: ignore[assignment]
    sink = SinkInput(required=False, allow_null=True)
    webhook_url = _url_input(required=False, allow_blank=True, allow_null=True)
    jwks = serializers.DictField(required=False, allow_null=True)
    transparency = TransparencyInput(required=False)
    algorithms = AlgorithmInput(many=True, required=False)
    retention = RetentionInput(required=False, help_text=_RETENTION_HELP)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # A service with neither role is refused by the service layer (role_required).
        data.setdefault("transparency", {"automated_decisions": False, "profiling": False})
        return data


class ServiceUpdateInput(StrictSerializer):
    """Every field optional; a nested object (source, sink, texts) replaces the old whole."""

    slug = serializers.SlugField(max_length=60, required=False)
    name = NameInput(required=False)
    description = DescriptionInput(required=False)
    privacy_policy_url = _url_input(required=False)
    # The stubs take this for Field.source; DRF's metaclass takes declared fields off the class.
    source = SourceInput(required=False, allow_null=True)  # type: ignore[assignment]
    sink = SinkInput(required=False, allow_null=True)
    webhook_url = _url_input(required=False, allow_blank=True, allow_null=True)
    jwks = serializers.DictField(required=False, allow_null=True)
    transparency = TransparencyInput(required=False)
    algorithms = AlgorithmInput(many=True, required=False)
    retention = RetentionInput(required=False, help_text=_RETENTION_HELP)


class LocalizedTextOutput(serializers.Serializer):
    fi = serializers.CharField()
    sv = serializers.CharField()
    en = serializers.CharField()


class OrganisationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    business_id = serializers.CharField()
    verified = serializers.BooleanField()


class TransparencyOutput(serializers.Serializer):
    automated_decisions = serializers.BooleanField()
    profiling = serializers.BooleanField()
    algorithm_register_url = serializers.CharField()


class AlgorithmOutput(serializers.Serializer):
    name = LocalizedTextOutput()
    purpose = LocalizedTextOutput()
    data_types = serializers.ListField(child=serializers.CharField())
    logic = LocalizedTextOutput()
    human_oversight = LocalizedTextOutput()
    non_discrimination = LocalizedTextOutput()
    register_url = serializers.CharField()


class ServicePublicOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    organisation = OrganisationOutput()
    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    privacy_policy_url = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(["source", "sink"]))
    offers = serializers.SerializerMethodField()
    accepts = serializers.SerializerMethodField()
    transparency = serializers.SerializerMethodField()
    algorithms = serializers.SerializerMethodField()
    transparency_page = serializers.SerializerMethodField()
    retention = serializers.SerializerMethodField()

    @extend_schema(responses=LocalizedTextOutput)
    def get_name(self, service: Service) -> dict:
        return {lang: getattr(service, f"name_{lang}") for lang in ("fi", "sv", "en")}

    @extend_schema(responses=LocalizedTextOutput)
    def get_description(self, service: Service) -> dict:
        return {lang: getattr(service, f"description_{lang}") for lang in ("fi", "sv", "en")}

    def get_offers(self, service: Service) -> list[str]:
        return [t.key for t in service.offered_types.all()]

    def get_accepts(self, service: Service) -> list[str]:
        return [t.key for t in service.accepted_types.all()]

    @extend_schema(responses=TransparencyOutput)
    def get_transparency(self, service: Service) -> dict:
        return {
            "automated_decisions": service.automated_decisions,
            "profiling": service.profiling,
            "algorithm_register_url": service.algorithm_register_url,
        }

    @extend_schema(responses=AlgorithmOutput(many=True))
    def get_algorithms(self, service: Service) -> list[dict]:
        return selectors.algorithms_shown(service)

    @extend_schema(responses=LocalizedTextOutput(allow_null=True))
    def get_retention(self, service: Service) -> dict | None:
        """The retention statement; null for a service that has not stated one."""
        texts = {lang: getattr(service, f"retention_{lang}") for lang in ("fi", "sv", "en")}
        return texts if any(texts.values()) else None

    def get_transparency_page(self, service: Service) -> str:
        """The service's public transparency page; it answers while the service is approved."""
        return settings.BASE_URL + reverse("service-transparency", args=[service.slug])


class ServiceOwnOutput(ServicePublicOutput):
    """What the owning organisation sees: status, endpoints and keys too."""

    status = serializers.ChoiceField(Service.Status.choices)
    fetch_url = serializers.CharField()
    link_url = serializers.CharField()
    delivery_url = serializers.CharField()
    webhook_url = serializers.CharField()
    jwks = serializers.JSONField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ServiceFilterInput(serializers.Serializer):
    role = serializers.ChoiceField(["source", "sink"], required=False)
    data_type = serializers.CharField(
        max_length=100, required=False, help_text="only services offering or accepting it"
    )


def _public_views() -> dict[str, bytes]:
    """Every approved service's public view by id, rendered as JSON, in slug order."""
    renderer = JSONRenderer()
    views = ServicePublicOutput(selectors.service_list_public(), many=True).data
    return {view["id"]: renderer.render(view) for view in views}


def _public_services(
    *, kept: dict, role: str | None = None, data_type: str | None = None
) -> list[bytes]:
    """The rendered public views of approved services the filters choose, in slug order.

    Each view is built once per process per registry generation; for each choice of
    filters only the ids are kept. A data type that does not exist matches nothing
    and is not kept: what is kept is bounded by the registry, never by what clients
    send. `kept`: the registry store the request got from generation_kept().
    """
    views = remembered("public services", _public_views, kept=kept)
    if role is None and not data_type:
        return list(views.values())
    if data_type and data_type not in selectors.data_type_keys_cached(kept=kept):
        return []
    ids = remembered(
        ("public service ids", role, data_type),
        lambda: selectors.service_ids_public(role=role, data_type=data_type),
        kept=kept,
    )
    # Should a change commit between the two reads, the ids may name a service the views
    # lack: the next request reads both again, under the change's new generation.
    return [views[pk] for pk in ids if pk in views]


def _public_service(service_id: UUID) -> bytes:
    """The rendered public view of one approved service, or 404."""
    try:
        return remembered("public services", _public_views)[str(service_id)]
    except KeyError:
        raise Http404 from None


def _page_body(envelope: dict, results: list[bytes]) -> bytes:
    """A page as JSON: its envelope rendered, with the rendered views as its `results`."""
    head = JSONRenderer().render({**envelope, "results": []})
    # `results` is the envelope's last member: its empty list closes the document.
    return head.removesuffix(b"[]}") + b"[" + b",".join(results) + b"]}"


def _public_answer(request: Request, body: bytes) -> HttpResponse:
    """`body` (JSON) with a strong ETag of its bytes; 304 Not Modified if the client has them.

    Caches may keep the answer but must ask again before each use (`no-cache`), so a
    change to the registry shows at the next request, and asking again costs a 304.
    An answer to a request with credentials gets no public Cache-Control: the
    PrivateNoStoreMiddleware makes it `no-store`, like every such answer.
    """
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = quote_etag(hashlib.sha256(body).hexdigest())
    if "HTTP_AUTHORIZATION" not in request.META:
        response["Cache-Control"] = "public, no-cache"
    conditional = get_conditional_response(
        request._request, etag=response["ETag"], response=response
    )
    return conditional or response  # it answers `response` itself when no condition applies


def _bearer_sent(request: Request) -> bool:
    return request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer ")


def _reads(view: APIView) -> bool:
    """Whether the request only reads: GET, or HEAD, which is GET without the body."""
    # The schema generator builds views without a request.
    return getattr(view.request, "method", None) in ("GET", "HEAD")


class ServiceCollectionApi(ApiView):
    """GET: the public registry of approved services. POST: register a service."""

    required_scopes = {"POST": "services:write"}

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if _reads(self) else [RequiresScope()]

    def get_authenticators(self) -> list[BaseAuthentication]:
        # The public list ignores credentials entirely, good or bad.
        return [] if _reads(self) else super().get_authenticators()

    @extend_schema(
        operation_id="services_list_public",
        parameters=[ServiceFilterInput, PageInput],
        responses={200: page_of(ServicePublicOutput), 400: ErrorOutput},
    )
    def get(self, request: Request) -> HttpResponse:
        kept = generation_kept()
        # A page is all its address says (filters, page, and the host its links name),
        # given the registry's generation and the page settings.
        address = (
            request.build_absolute_uri(),
            settings.OMADATA_PAGE_MAX_LIMIT,
            settings.REST_FRAMEWORK["PAGE_SIZE"],
        )
        pages: dict[tuple, bytes] = remembered("public pages", dict, kept=kept)
        body = pages.get(address)
        if body is None:
            body = self._page(request, kept)
            if len(pages) < PUBLIC_PAGES_KEPT:
                pages[address] = body
        return _public_answer(request, body)

    def _page(self, request: Request, kept: dict) -> bytes:
        filters = ServiceFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = BoundedLimitOffsetPagination()
        # DRF pages a list as well as a queryset: it counts with len().
        page: list[bytes] | None = paginator.paginate_queryset(
            _public_services(kept=kept, **filters.validated_data),  # type: ignore[arg-type]
            request,
            view=self,
        )
        envelope = paginator.get_paginated_response([]).data
        return _page_body(envelope, page or [])

    @extend_schema(
        operation_id="services_register",
        request=ServiceRegisterInput,
        responses={201: ServiceOwnOutput, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        provider = caller_provider(request)
        data = ServiceRegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        service = services.service_register(
            organisation=provider.organisation, actor=provider.user, spec=data.validated_data
        )
        service = selectors.service_access(
            organisation=provider.organisation, service_id=service.pk
        )
        return Response(ServiceOwnOutput(service).data, status=status.HTTP_201_CREATED)


class ServiceDetailApi(ApiView):
    """GET: one service (the owner's full view, or else the public view). PATCH: change it."""

    required_scopes = {"GET": "services:read", "PATCH": "services:write"}

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if _reads(self) else [RequiresScope()]

    @extend_schema(
        operation_id="services_read",
        responses={200: ServiceOwnOutput, 401: ErrorOutput, 404: ErrorOutput},
        description="The owner, with `services:read`, sees the full record; anyone else "
        "sees the public view of an approved service, and 404 otherwise. A token that is "
        "sent but invalid or expired gets 401.",
    )
    def get(self, request: Request, service_id: UUID) -> HttpResponse:
        token: Any = request.auth  # django-oauth-toolkit's AccessToken (untyped), or None
        if token is None and _bearer_sent(request):
            # An expired token should say so, not quietly show the public view.
            raise exceptions.NotAuthenticated()
        if token is not None and token.allow_scopes(["services:read"]):
            provider = caller_provider(request)
            owned = selectors.service_list_owned(organisation=provider.organisation)
            service = owned.filter(pk=service_id).first()
            if service is not None:
                return Response(ServiceOwnOutput(service).data)
        return _public_answer(request, _public_service(service_id))

    @extend_schema(
        operation_id="services_update",
        request=ServiceUpdateInput,
        responses={200: ServiceOwnOutput, **ERRORS},
        description="Changing endpoints, roles, data types, names, transparency or algorithms "
        "of an approved service sends it back to `pending` until staff review it again. "
        "`algorithms`, when sent, replaces the list whole.",
    )
    def patch(self, request: Request, service_id: UUID) -> Response:
        provider = caller_provider(request)
        service = selectors.service_access(
            organisation=provider.organisation, service_id=service_id
        )
        data = ServiceUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.service_update(service=service, actor=provider.user, spec=data.validated_data)
        service = selectors.service_access(
            organisation=provider.organisation, service_id=service_id
        )
        return Response(ServiceOwnOutput(service).data)


class OwnServiceListApi(ApiView):
    """The calling organisation's services, whatever their status."""

    required_scopes = {"GET": "services:read"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="organisation_services",
        responses={200: ServiceOwnOutput(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        provider = caller_provider(request)
        services_ = selectors.service_list_owned(organisation=provider.organisation)
        return Response(ServiceOwnOutput(services_, many=True).data)


class OrganisationOwnOutput(OrganisationOutput):
    contact_email = serializers.EmailField()


class OrganisationApi(ApiView):
    """The organisation the calling credentials belong to."""

    required_scopes = {"GET": "services:read"}
    permission_classes = [RequiresScope]

    @extend_schema(
        operation_id="organisation_read",
        responses={200: OrganisationOwnOutput, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(OrganisationOwnOutput(caller_provider(request).organisation).data)


class DataTypeOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    sensitive = serializers.BooleanField()
    schema = serializers.JSONField(allow_null=True)

    @extend_schema(responses=LocalizedTextOutput)
    def get_title(self, data_type: DataType) -> dict:
        return {lang: getattr(data_type, f"title_{lang}") for lang in ("fi", "sv", "en")}

    @extend_schema(responses=LocalizedTextOutput)
    def get_description(self, data_type: DataType) -> dict:
        return {lang: getattr(data_type, f"description_{lang}") for lang in ("fi", "sv", "en")}


class DataTypeListApi(ApiView):
    """The data types services may offer or accept."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(operation_id="data_types_list", responses={200: DataTypeOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response(DataTypeOutput(selectors.data_type_list(), many=True).data)
