from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Installed for its template filters; it has no models."""

    name = "common"
    verbose_name = "Omadata library"
