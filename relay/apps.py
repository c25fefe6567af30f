from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelayConfig(AppConfig):
    name = "relay"
    verbose_name = _("Transfers")

    def ready(self) -> None:
        from consent.pages import consent_page_section_register
        from relay.views import consent_transfers_section

        consent_page_section_register(consent_transfers_section)
