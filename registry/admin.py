from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from common.admin import BoundedJSONField, ReadOnlyAdmin
from common.errors import ServiceError
from common.http import AuthenticatedHttpRequest
from ledger.access import is_auditor
from registry import selectors, services
from registry.models import Algorithm, AuditEvent, DataType, Organisation, Provider, Service

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "business_id", "contact_email", "verified", "created_at"]
    list_filter = ["verified"]
    search_fields = ["name", "business_id"]
    readonly_fields = ["business_id", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # organisations are created with `manage.py provider_create`

    def save_model(
        self, request: HttpRequest, obj: Organisation, form: forms.ModelForm, change: bool
    ) -> None:
        services.organisation_update(organisation=obj, changed=form.changed_data)


class ProviderForm(forms.ModelForm):
    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        # An auditor's API clients hold audit:read alone (registry.services.auditor_grant).
        if is_auditor(user):
            raise forms.ValidationError(
                _("An auditor cannot also sign in for a service provider: revoke the role first.")
            )
        return user


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation"]
    search_fields = ["user__username", "organisation__name"]
    raw_id_fields = ["user"]
    form = ProviderForm


# A JSON Schema for one kind of data is a few kilobytes; this leaves room for a large one.
MAX_SCHEMA_BYTES = 64 * 1024


class DataTypeForm(forms.ModelForm):
    schema = BoundedJSONField(max_bytes=MAX_SCHEMA_BYTES, required=False, label=_("JSON Schema"))

    class Meta:
        model = DataType
        fields = [
            "key", "title_fi", "title_sv", "title_en", "description_fi", "description_sv",
            "description_en", "sensitive", "schema",
        ]  # fmt: skip


@admin.register(DataType)
class DataTypeAdmin(admin.ModelAdmin):
    """Staff define the data types. A key is set once, and a type in use stays.

    Services, consents and signed receipts name a type by its key. Every change
    leaves an audit event (registry.services).
    """

    form = DataTypeForm
    list_display = ["key", "title_en", "sensitive"]
    list_filter = ["sensitive"]
    search_fields = ["key", "title_fi", "title_sv", "title_en"]

    def get_readonly_fields(self, request: HttpRequest, obj: DataType | None = None) -> list[str]:
        return ["key"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: DataType, form: forms.ModelForm, change: bool
    ) -> None:
        services.data_type_save(data_type=obj, actor=_staff(request), changed=form.changed_data)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, Any]:
        # What uses a type is listed as "protected": Django's delete page and bulk
        # action then say so and offer no deletion. The many-to-many rows
        # themselves would go silently, taking the type out of consents' terms.
        deleted, counts, permissions, protected = super().get_deleted_objects(objs, request)
        for data_type in objs:
            protected = [*protected, *selectors.data_type_users(data_type=data_type)]
        return deleted, counts, permissions, protected

    def delete_model(self, request: HttpRequest, obj: DataType) -> None:
        services.data_type_delete(data_type=obj, actor=_staff(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DataType]) -> None:
        for data_type in queryset:
            services.data_type_delete(data_type=data_type, actor=_staff(request))


def _staff(request: HttpRequest) -> "User":
    # The admin's views let only signed-in staff this far.
    return cast(AuthenticatedHttpRequest, request).user


class AlgorithmInline(admin.StackedInline):
    """A service's algorithms, as its provider described them, for staff to review.

    Read-only, as the service is: the provider replaces them whole through the API
    (registry.services), which validates them and leaves the audit event.
    """

    model = Algorithm
    extra = 0
    can_delete = False
    readonly_fields = [
        "position", "name_fi", "name_sv", "name_en", "purpose_fi", "purpose_sv", "purpose_en",
        "data_types", "logic_fi", "logic_sv", "logic_en", "human_oversight_fi",
        "human_oversight_sv", "human_oversight_en", "non_discrimination_fi",
        "non_discrimination_sv", "non_discrimination_en", "register_url",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    """Staff review services here: approve or suspend, nothing else.

    Providers describe their services through the API; staff change only the
    status, with an action that writes the audit event, so nothing is edited here.
    """

    list_display = [
        "slug",
        "name_en",
        "organisation",
        "status",
        "is_source",
        "is_sink",
        "updated_at",
    ]
    list_filter = ["status", "is_source", "is_sink"]
    search_fields = ["slug", "name_fi", "name_sv", "name_en", "organisation__name"]
    actions = ["approve", "suspend"]
    inlines = [AlgorithmInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Service | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Service | None = None) -> bool:
        return False  # consents and receipts refer to services: suspend instead

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The actions change state, so they need the change permission the form lacks.
        actions = super().get_actions(request)
        if not request.user.has_perm("registry.change_service"):
            return {}
        return actions

    @admin.action(description=_("Approve the selected services"))
    def approve(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Service]) -> None:
        count = 0
        for service in queryset.exclude(status=Service.Status.APPROVED):
            services.service_approve(service=service, actor=request.user)
            count += 1
        self.message_user(
            request, ngettext("%d service approved.", "%d services approved.", count) % count,
            messages.SUCCESS,
        )  # fmt: skip

    @admin.action(description=_("Suspend the selected services"))
    def suspend(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Service]) -> None:
        count = 0
        for service in queryset.exclude(status=Service.Status.SUSPENDED):
            services.service_suspend(service=service, actor=request.user, reason="staff action")
            count += 1
        self.message_user(
            request, ngettext("%d service suspended.", "%d services suspended.", count) % count,
            messages.WARNING,
        )  # fmt: skip


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "organisation", "service", "actor", "detail"]
    list_filter = ["action"]
    # detail__username: the account a lockout or a role concerns; the names an event kept
    # as they were, for an actor or an organisation since renamed.
    search_fields = [
        "organisation__name",
        "service__slug",
        "detail__username",
        "detail__actor_username",
        "detail__organisation_name",
    ]


UserModel = get_user_model()
admin.site.unregister(UserModel)


@admin.register(UserModel)
class AccountAdmin(UserAdmin):
    """Django's user admin, with the auditor role granted and revoked as audited actions.

    Groups are read-only here: the one group that means anything is the auditors', and
    it changes through the actions, each with its audit event.
    """

    actions = ["grant_auditor", "revoke_auditor"]
    readonly_fields = ["groups"]

    @admin.action(description=_("Grant the auditor role"), permissions=["change"])
    def grant_auditor(self, request: AuthenticatedHttpRequest, queryset: QuerySet) -> None:
        self._each(
            request, queryset, services.auditor_grant, _("Users given the auditor role: %(count)d.")
        )

    @admin.action(description=_("Revoke the auditor role"), permissions=["change"])
    def revoke_auditor(self, request: AuthenticatedHttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            services.auditor_revoke,
            _("Users whose auditor role was revoked: %(count)d."),
        )

    def _each(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet, change: Any, done: Any
    ) -> None:
        count = 0
        for user in queryset:
            try:
                count += change(user=user, actor=request.user)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
        self.message_user(request, done % {"count": count}, messages.SUCCESS)
