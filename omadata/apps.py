from django.apps import AppConfig


class OmadataConfig(AppConfig):
    name = "omadata"
    verbose_name = "Omadata"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from omadata import checks  # noqa: F401  (registers the system checks)
        from omadata.lockout import lockout_record

        user_locked_out.connect(lockout_record, dispatch_uid="omadata.lockout_record")
