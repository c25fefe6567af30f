"""The receipts list's filters: every parameter the page takes, and what each must be."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from consent.models import Receipt


class ReceiptFilterForm(forms.Form):
    event = forms.ChoiceField(
        label=_("Event"), required=False, choices=[("", _("any")), *Receipt.Event.choices]
    )
    service = forms.SlugField(label=_("Service (slug)"), required=False, max_length=100)
    consent = forms.UUIDField(label=_("Consent id"), required=False)
    from_date = forms.DateField(
        label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    to_date = forms.DateField(
        label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
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


class ServiceFiguresForm(forms.Form):
    """The per-service figures' time range: days, both included."""

    from_date = forms.DateField(
        label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    to_date = forms.DateField(
        label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise forms.ValidationError(_("The from date is after the to date."))
        return data


def unknown_parameters(form_class: type[forms.Form], names: Any) -> list[str]:
    """The query parameters `form_class` does not take: refused, not silently ignored."""
    return sorted(set(names) - set(form_class.base_fields))
