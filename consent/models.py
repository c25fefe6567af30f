import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ledger.models import LogEntry
from registry.models import DataType, LocalizedMixin, Service


class Frequency(models.TextChoices):
    ONE_OFF = "one_off", _("once")
    RECURRING = "recurring", _("repeatedly")


class Period(models.TextChoices):
    DAY = "day", _("day")
    WEEK = "week", _("week")
    MONTH = "month", _("month")


class PurposeCategory(models.TextChoices):
    SERVICE = "service_provision", _("providing a service you use")
    WELLBEING = "wellbeing", _("supporting your health and wellbeing")
    RELOCATION = "relocation", _("moving your records to a new home municipality")
    CONTACT = "contact", _("contacting you")
    RESEARCH = "research", _("research")
    STATISTICS = "statistics", _("statistics")


def frequency_words(*, kind: str, limit: int | None, period: str) -> str:
    """A frequency as people say it, in the active language. Each period has its own
    sentence, not a "per {period}" slot: languages say "a day" and "a week" differently."""
    if kind == Frequency.ONE_OFF or not limit:
        return str(_("once"))
    if period == Period.WEEK:
        text = ngettext("at most once a week", "at most %(count)d times a week", limit)
    elif period == Period.MONTH:
        text = ngettext("at most once a month", "at most %(count)d times a month", limit)
    else:
        text = ngettext("at most once a day", "at most %(count)d times a day", limit)
    return text % {"count": limit}


def new_pseudonym() -> str:
    return secrets.token_urlsafe(24)


class ServiceLink(models.Model):
    """A resident's link to a service, under a pairwise pseudonymous subject id.

    The subject is random and different at every service, so that two services
    cannot join what they know about a resident through Omadata. A link is
    `pending` while the resident links it: the service confirms it with its own
    reference for the resident, and it becomes `active` only when the browser of
    the session that started it comes back with the code the service was given;
    then it stays active until removed. A pending link that cannot finish is
    `abandoned`, and its subject is never offered again: the service may have
    tied it to whoever finished its link page.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACTIVE = "active", _("active")
        REMOVED = "removed", _("removed")
        ABANDONED = "abandoned", _("not made")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_links"
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="links")
    subject = models.CharField(max_length=64, unique=True, editable=False)
    service_reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("service link")
        verbose_name_plural = _("service links")
        constraints = [
            # One live link per resident and service: the pairwise id must be unambiguous.
            models.UniqueConstraint(
                fields=["resident", "service"],
                condition=~models.Q(status__in=["removed", "abandoned"]),
                name="one_live_link_per_service",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug}:{self.subject[:8]}"


class LanguagePreference(models.Model):
    """The language a resident chose with the switcher, kept for their next visit from any
    browser. A language a service's link names (`?lang=`) and a choice in this browser
    come first (omadata/language.py); the browser's own language comes after."""

    resident = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
        related_name="language_preference",
    )  # fmt: skip
    language = models.CharField(max_length=5, choices=settings.LANGUAGES)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("language preference")
        verbose_name_plural = _("language preferences")

    def __str__(self) -> str:
        return self.language


class LinkToken(models.Model):
    """One attempt to link: its token's id (jti), and what came of it.

    The token is spent when the service confirms it (`used_at`); the service is
    then given a single-use code, kept here only as its SHA-256, for the browser
    it sends back. `outcome` records that browser's return: `linked`, or why not.
    """

    jti = models.CharField(max_length=64, primary_key=True)
    link = models.ForeignKey(ServiceLink, on_delete=models.CASCADE, related_name="tokens")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Where the resident goes on once linked: a page of ours, never one a request supplied.
    return_to = models.CharField(max_length=2000, blank=True)
    code_sha256 = models.CharField(max_length=64, null=True, blank=True, unique=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=30, blank=True)

    class Meta:
        verbose_name = _("link token")
        verbose_name_plural = _("link tokens")

    def __str__(self) -> str:
        return self.jti


class ConsentTerms(LocalizedMixin, models.Model):
    """What a resident is asked to agree to; shared by requests and consents.

    The data comes from one or more sources (`sources`, in the order the sink
    named them), each with the data types wanted from it; `data_types` is the
    union of theirs.
    """

    sink = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    data_types = models.ManyToManyField(DataType, related_name="+")
    purpose_fi = models.TextField()
    purpose_sv = models.TextField()
    purpose_en = models.TextField()
    purpose_category = models.CharField(max_length=40, choices=PurposeCategory.choices)
    valid_until = models.DateTimeField()
    frequency = models.CharField(max_length=20, choices=Frequency.choices)
    frequency_limit = models.PositiveIntegerField(null=True, blank=True)
    frequency_period = models.CharField(max_length=10, choices=Period.choices, blank=True)
    # The resident's name in this request's and its consent's receipts: random and
    # used nowhere else, so that services receiving receipts cannot join residents.
    principal = models.CharField(max_length=64, default=new_pseudonym, editable=False)

    class Meta:
        abstract = True

    def source_parts(self) -> list["TermsSource"]:
        """The sources in order; `sources` is prefetched with their services where listed.

        Read once per instance: a request's or consent's sources never change.
        """
        known = self.__dict__.get("_source_parts")
        if known is None:
            known = sorted(self.sources.all(), key=lambda part: part.position)  # type: ignore[attr-defined]
            self.__dict__["_source_parts"] = known
        return known

    def source_parts_known(self, parts: Sequence["TermsSource"]) -> None:
        """Take `parts`, just written with their services, as the sources: no need to read them."""
        self.__dict__["_source_parts"] = sorted(parts, key=lambda part: part.position)

    def source_groups(self) -> list[tuple[Service, list[DataType]]]:
        """Each source with the data types wanted from it, as the consent screen groups them."""
        types = {data_type.key: data_type for data_type in self.data_types.all()}
        return [
            (part.service, [types[key] for key in part.data_types if key in types])
            for part in self.source_parts()
        ]

    def frequency_words(self) -> str:
        """How often the data may move, as a sentence fragment in the active language:
        "once", "at most once a day", "at most 3 times a week"."""
        return frequency_words(
            kind=self.frequency, limit=self.frequency_limit, period=self.frequency_period
        )

    def terms(self) -> dict:
        """The terms as receipts and the API state them."""
        return {
            "purpose": {lang: getattr(self, f"purpose_{lang}") for lang in ("fi", "sv", "en")},
            "purpose_category": self.purpose_category,
            "valid_until": self.valid_until.isoformat(),
            "frequency": {
                "kind": self.frequency,
                "limit": self.frequency_limit,
                "period": self.frequency_period or None,
            },
        }


class ConsentRequest(ConsentTerms):
    """A sink's request for a resident's consent, answered once on the consent screen."""

    class Status(models.TextChoices):
        OPEN = "open", _("waiting for an answer")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    return_url = models.URLField(max_length=2000)
    state = models.CharField(max_length=500, blank=True)
    subject_reference = models.CharField(max_length=200, blank=True)
    # The sink's name for that account, shown to the resident: whose account they join.
    subject_label = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("consent request")
        verbose_name_plural = _("consent requests")

    def __str__(self) -> str:
        return str(self.id)


class Consent(ConsentTerms):
    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        WITHDRAWN = "withdrawn", _("withdrawn")
        EXPIRED = "expired", _("expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    resident = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    request = models.OneToOneField(ConsentRequest, on_delete=models.PROTECT, related_name="consent")
    language = models.CharField(max_length=5)
    notice_sha256 = models.CharField(max_length=64)
    # The sink's algorithms as the resident was shown them, all languages
    # (registry.selectors.algorithms_shown), and their hash, which the receipts state.
    algorithms = models.JSONField(default=list, blank=True)
    algorithms_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [
            # Expiry sweeps and "my consents" lists filter on these.
            models.Index(fields=["status", "valid_until"], name="consent_status_valid"),
            models.Index(fields=["resident", "status"], name="consent_resident_status"),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.PAUSED)


class TermsSource(models.Model):
    """One source of a request or a consent, with the data types wanted from it."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    # Keys of data types the source offers, sorted: the terms never change once written.
    data_types = models.JSONField(default=list)

    class Meta:
        abstract = True
        ordering = ["position"]


class RequestSource(TermsSource):
    request = models.ForeignKey(ConsentRequest, on_delete=models.CASCADE, related_name="sources")

    class Meta(TermsSource.Meta):
        verbose_name = _("source of a consent request")
        verbose_name_plural = _("sources of consent requests")
        constraints = [
            # A source is named once per request: its data types are one list.
            models.UniqueConstraint(fields=["request", "service"], name="request_source_once"),
            models.UniqueConstraint(fields=["request", "position"], name="request_source_position"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.position}"


class ConsentSource(TermsSource):
    # PROTECT: a consent's terms are evidence, as the consent is.
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="sources")

    class Meta(TermsSource.Meta):
        verbose_name = _("source of a consent")
        verbose_name_plural = _("sources of consents")
        constraints = [
            models.UniqueConstraint(fields=["consent", "service"], name="consent_source_once"),
            models.UniqueConstraint(fields=["consent", "position"], name="consent_source_position"),
        ]
        indexes = [
            # A source's consents: link removal, figures, the API's list for the source.
            models.Index(fields=["service", "consent"], name="consent_source_service"),
        ]

    def __str__(self) -> str:
        return f"{self.consent_id} {self.position}"


def sources_with_services(model: type[models.Model]) -> models.Prefetch:
    """The `sources` of requests or consents with their services and organisations, in one read."""
    parts = model.objects.select_related("service__organisation")  # type: ignore[attr-defined]
    return models.Prefetch("sources", parts)


# Log order: integrated receipts by index, then those still queued, in queue order.
# For one consent or link that is the order they were issued in.
RECEIPTS_IN_ORDER = [
    models.F("entry__index").asc(nulls_last=True),
    models.F("entry__queued__id").asc(nulls_first=True),
]
RECEIPTS_LATEST_FIRST = [
    models.F("entry__index").desc(nulls_first=True),
    models.F("entry__queued__id").desc(nulls_last=True),
]


class Receipt(models.Model):
    """A signed record of one event: append-only, and a leaf of the receipt log.

    The signed text and its place in the log are the log entry's; this row says
    what the receipt is about, under the same id.
    """

    class Event(models.TextChoices):
        GRANTED = "consent.granted", _("consent given")
        REFUSED = "consent.refused", _("consent refused")
        PAUSED = "consent.paused", _("consent paused")
        RESUMED = "consent.resumed", _("consent resumed")
        WITHDRAWN = "consent.withdrawn", _("consent withdrawn")
        EXPIRED = "consent.expired", _("consent expired")
        LINK_CREATED = "link.created", _("account linked")
        LINK_REMOVED = "link.removed", _("account link removed")
        DELIVERED = "transfer.delivered", _("data delivered")

    entry = models.OneToOneField(
        LogEntry, primary_key=True, on_delete=models.PROTECT, related_name="receipt"
    )
    event = models.CharField(max_length=40, choices=Event.choices)
    consent = models.ForeignKey(
        Consent, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    request = models.ForeignKey(
        ConsentRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    link = models.ForeignKey(
        ServiceLink, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts"
    )
    # A delivery receipt's source: the one whose part of a run it records. The other
    # sources of the consent are not shown it (consent.selectors.receipts_of).
    part_source = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    IN_ORDER = RECEIPTS_IN_ORDER
    LATEST_FIRST = RECEIPTS_LATEST_FIRST

    class Meta:
        ordering = RECEIPTS_IN_ORDER
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")

    def __str__(self) -> str:
        return f"{self.entry} {self.event}"

    # Read through the entry: select_related("entry") wherever receipts are listed.
    @property
    def jws(self) -> str:
        return self.entry.data

    @property
    def log_index(self) -> int | None:
        """The receipt's index in the log; None while it waits for the sequencer."""
        return self.entry.index

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    @property
    def created_at(self) -> datetime:
        return self.entry.created_at
