from django.apps import AppConfig


class OmadataConfig(AppConfig):
    name = "omadata"
    verbose_name = "Omadata"

    def ready(self) -> None:
        from omadata import checks  # noqa: F401  (registers the system checks)
