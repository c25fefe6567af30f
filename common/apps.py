from django.apps import AppConfig
from django.core.signals import request_finished


class CommonConfig(AppConfig):
    """Installed for its template tags and filters; it has no models."""

    name = "common"
    verbose_name = "Omadata library"

    def ready(self) -> None:
        from common.correlation import request_id_forget

        request_finished.connect(request_id_forget, dispatch_uid="request_id_forget")
