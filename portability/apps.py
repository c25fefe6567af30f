from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortabilityConfig(AppConfig):
    name = "portability"
    verbose_name = _("Moving operators")

    def ready(self) -> None:
        from consent.pages import account_eraser_register, my_consents_section_register
        from portability.services import imported_erase
        from portability.views import imported_section

        my_consents_section_register(imported_section)
        account_eraser_register(imported_erase)
