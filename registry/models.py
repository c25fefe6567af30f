import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Now
from django.utils import translation
from django.utils.translation import gettext_lazy as _

LANGUAGE_CODES = ("fi", "sv", "en")
DATA_TYPE_KEY = RegexValidator(
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$",
    _("A key is lower-case words joined by dots, such as wellbeing.steps."),
    code="invalid_key",
)


def reader_language(language: str | None = None) -> str:
    """The one of fi, sv and en to show `language` (default: the active one) a text in."""
    language = (language or translation.get_language() or "fi")[:2]
    return language if language in LANGUAGE_CODES else "en"


class LocalizedMixin:
    """Models with `<field>_fi`, `<field>_sv` and `<field>_en` columns."""

    def localized(self, field: str, language: str | None = None) -> str:
        language = reader_language(language)
        return getattr(self, f"{field}_{language}") or getattr(self, f"{field}_en")


class Organisation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    business_id = models.CharField(_("business ID (Y-tunnus)"), max_length=9, unique=True)
    contact_email = models.EmailField(_("contact email"))
    verified = models.BooleanField(
        _("verified"), default=False, help_text=_("Staff have checked who this organisation is.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return f"{self.name} ({self.business_id})"


class Provider(models.Model):
    """A user who acts for an organisation: manages its services and credentials."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="providers"
    )

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation.name}"


class DataType(LocalizedMixin, models.Model):
    key = models.CharField(_("key"), max_length=100, unique=True, validators=[DATA_TYPE_KEY])
    title_fi = models.CharField(_("title (Finnish)"), max_length=200)
    title_sv = models.CharField(_("title (Swedish)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    description_fi = models.TextField(_("description (Finnish)"), blank=True)
    description_sv = models.TextField(_("description (Swedish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    sensitive = models.BooleanField(
        _("sensitive"),
        default=False,
        help_text=_("A special category of personal data (GDPR art. 9), such as health."),
    )
    schema = models.JSONField(_("JSON Schema"), null=True, blank=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("data type")
        verbose_name_plural = _("data types")

    def __str__(self) -> str:
        return self.key


class Service(LocalizedMixin, models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        SUSPENDED = "suspended", _("suspended")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="services"
    )
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    name_fi = models.CharField(_("name (Finnish)"), max_length=200)
    name_sv = models.CharField(_("name (Swedish)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description_fi = models.TextField(_("description (Finnish)"))
    description_sv = models.TextField(_("description (Swedish)"))
    description_en = models.TextField(_("description (English)"))
    privacy_policy_url = models.URLField(_("privacy policy URL"), max_length=2000)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    is_source = models.BooleanField(_("source"), default=False)
    fetch_url = models.URLField(_("fetch URL"), max_length=2000, blank=True)
    link_url = models.URLField(
        _("link URL"), max_length=2000, blank=True,
        help_text=_("Where residents go to link their account at this source."),
    )  # fmt: skip
    offered_types = models.ManyToManyField(
        DataType, blank=True, related_name="sources", verbose_name=_("data types offered")
    )
    is_sink = models.BooleanField(_("sink"), default=False)
    delivery_url = models.URLField(_("delivery URL"), max_length=2000, blank=True)
    accepted_types = models.ManyToManyField(
        DataType, blank=True, related_name="sinks", verbose_name=_("data types accepted")
    )
    webhook_url = models.URLField(_("webhook URL"), max_length=2000, blank=True)
    jwks = models.JSONField(_("public keys (JWKS)"), null=True, blank=True)
    automated_decisions = models.BooleanField(_("makes automated decisions"), default=False)
    profiling = models.BooleanField(_("profiles residents"), default=False)
    algorithm_register_url = models.URLField(
        _("algorithm register entry"), max_length=2000, blank=True
    )
    # What a sink does with data it already received once a consent is withdrawn, and how
    # long it keeps it, in its own words. Blank for a service registered before it was asked:
    # residents are then told that the service has not said.
    retention_fi = models.TextField(
        _("retention after withdrawal (Finnish)"), max_length=1000, blank=True
    )
    retention_sv = models.TextField(
        _("retention after withdrawal (Swedish)"), max_length=1000, blank=True
    )
    retention_en = models.TextField(
        _("retention after withdrawal (English)"), max_length=1000, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            # A service that neither offers nor accepts data has no place here.
            models.CheckConstraint(
                condition=models.Q(is_source=True) | models.Q(is_sink=True),
                name="service_has_a_role",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "suspended"]),
                name="service_status_known",
            ),
        ]
        indexes = [
            # The public registry lists approved services, over and over.
            models.Index(fields=["status", "slug"], name="service_status_slug"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def roles(self) -> list[str]:
        return [role for role, on in (("source", self.is_source), ("sink", self.is_sink)) if on]


class Algorithm(LocalizedMixin, models.Model):
    """An algorithm that a service uses to make automated decisions or to profile, as the
    service describes it to residents: each text in fi, sv and en.

    A service's algorithms are replaced whole when it changes them (registry/services.py),
    never edited one by one: `position` is their order as the service gave them.
    `data_types` holds keys of data types the service offers or accepts.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="algorithms")
    position = models.PositiveSmallIntegerField()
    name_fi = models.CharField(_("name (Finnish)"), max_length=200)
    name_sv = models.CharField(_("name (Swedish)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    purpose_fi = models.TextField(_("purpose (Finnish)"), max_length=2000)
    purpose_sv = models.TextField(_("purpose (Swedish)"), max_length=2000)
    purpose_en = models.TextField(_("purpose (English)"), max_length=2000)
    data_types = models.JSONField(_("data types used"), default=list)
    logic_fi = models.TextField(_("logic (Finnish)"), max_length=4000)
    logic_sv = models.TextField(_("logic (Swedish)"), max_length=4000)
    logic_en = models.TextField(_("logic (English)"), max_length=4000)
    human_oversight_fi = models.TextField(_("human oversight (Finnish)"), max_length=2000)
    human_oversight_sv = models.TextField(_("human oversight (Swedish)"), max_length=2000)
    human_oversight_en = models.TextField(_("human oversight (English)"), max_length=2000)
    non_discrimination_fi = models.TextField(
        _("non-discrimination measures (Finnish)"), max_length=2000
    )
    non_discrimination_sv = models.TextField(
        _("non-discrimination measures (Swedish)"), max_length=2000
    )
    non_discrimination_en = models.TextField(
        _("non-discrimination measures (English)"), max_length=2000
    )
    register_url = models.URLField(_("algorithm register entry"), max_length=2000)

    class Meta:
        ordering = ["service", "position"]
        verbose_name = _("algorithm")
        verbose_name_plural = _("algorithms")
        constraints = [
            # One order: the hash of what residents are shown depends on it.
            models.UniqueConstraint(
                fields=["service", "position"], name="algorithm_service_position"
            ),
        ]

    def __str__(self) -> str:
        return self.name_en


class RegistryGeneration(models.Model):
    """One row whose token changes in the transaction of every change to the registry.

    Processes keep what they built from registry rows under the token they read
    (registry/generation.py): reading this row tells them whether it still holds.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.CharField(max_length=32)

    class Meta:
        constraints = [
            # One registry, one generation: a second row would be a second truth.
            models.CheckConstraint(condition=models.Q(id=1), name="registry_generation_one_row"),
        ]

    def __str__(self) -> str:
        return self.token


class AuditEvent(models.Model):
    """An append-only record of a change to the registry, or of an event about an
    account (a login lockout, a resident closing their account), and who made it.

    Events about an organisation or its services name it; account events name
    none, and say in `detail` which user name and address they concern (never
    a password; a closed account, the pseudonym that replaced its user name);
    data type events name none either, and say which key, and which
    fields changed. `detail` also keeps the actor's user name and the
    organisation's name as they were when the event was recorded.
    """

    class Action(models.TextChoices):
        ORGANISATION_CREATED = "organisation.created", _("organisation created")
        SERVICE_REGISTERED = "service.registered", _("service registered")
        SERVICE_UPDATED = "service.updated", _("service updated")
        SERVICE_APPROVED = "service.approved", _("service approved")
        SERVICE_SUSPENDED = "service.suspended", _("service suspended")
        CREDENTIAL_CREATED = "credential.created", _("API credential created")
        CREDENTIAL_REVOKED = "credential.revoked", _("API credential revoked")
        ACCOUNT_LOCKED_OUT = "account.locked_out", _("account locked out")
        ACCOUNT_CLOSED = "account.closed", _("account closed")
        AUDITOR_GRANTED = "auditor.granted", _("auditor role granted")
        AUDITOR_REVOKED = "auditor.revoked", _("auditor role revoked")
        DATA_TYPE_CREATED = "data_type.created", _("data type created")
        DATA_TYPE_CHANGED = "data_type.changed", _("data type changed")
        DATA_TYPE_DELETED = "data_type.deleted", _("data type deleted")

    id = models.BigAutoField(primary_key=True)
    # The database's clock, not the application's: on PostgreSQL a trigger sets it
    # whatever an insert says (common/evidence.py), so no event is backdated.
    at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)
    action = models.CharField(max_length=40, choices=Action.choices)
    # PROTECT, all three: an audit event is evidence, never changed or deleted
    # (common/evidence.py). A user who acted is deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"
