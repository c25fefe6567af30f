"""The audit pages' parameters: every one a page takes, and what each must be."""

from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from consent.models import Receipt
from ledger.bundles import BUNDLE_MAX

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

# Days a filter may name: no record is older than 2000, and a day at the calendar's edge
# (0001-01-01, 9999-12-31) would overflow when turned into an instant, or into the day after.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


def day_field(label: "str | _StrPromise") -> forms.DateField:  # a lazy label too
    return forms.DateField(
        label=label, required=False,
        validators=[MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)],
        widget=forms.DateInput(attrs={"type": "date"}),
    )  # fmt: skip


class ReceiptFilterForm(forms.Form):
    event = forms.ChoiceField(
        label=_("Event"), required=False, choices=[("", _("any")), *Receipt.Event.choices]
    )
    service = forms.SlugField(label=_("Service (slug)"), required=False, max_length=100)
    consent = forms.UUIDField(label=_("Consent id"), required=False)
    from_date = day_field(_("From date"))
    to_date = day_field(_("To date"))
    from_index = forms.IntegerField(label=_("From log index"), required=False, min_value=0)
    to_index = forms.IntegerField(label=_("To log index"), required=False, min_value=0)
    # The page key: the log index the next page starts below. Set by the page's own links.
    before = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise forms.ValidationError(_("The from date is after the to date."))
        low, high = data.get("from_index"), data.get("to_index")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The from log index is greater than the to log index."))
        return data


class CheckpointPageForm(forms.Form):
    # The page key: the tree size the next page starts below. Set by the page's own links.
    before = forms.IntegerField(required=False, min_value=0)


class BundleForm(forms.Form):
    """A range of the log for an audit bundle: the API's bounds, log indexes start to end - 1."""

    max_receipts = BUNDLE_MAX

    start = forms.IntegerField(label=_("First log index"), min_value=0)
    end = forms.IntegerField(label=_("End: one past the last log index"), min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and not 0 < end - start <= BUNDLE_MAX:
            raise forms.ValidationError(
                _("The end must be after the start, by at most %(max)s log indexes."),
                params={"max": BUNDLE_MAX},
            )
        return data


class ServiceFiguresForm(forms.Form):
    """The per-service figures' time range: days, both included."""

    from_date = day_field(_("From date"))
    to_date = day_field(_("To date"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise forms.ValidationError(_("The from date is after the to date."))
        return data


def unknown_parameters(form_class: type[forms.Form], names: Any) -> list[str]:
    """The query parameters `form_class` does not take: refused, not silently ignored."""
    return sorted(set(names) - set(form_class.base_fields))
