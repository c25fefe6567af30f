from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security)
def loopback_urls_off_in_production(app_configs, **kwargs):
    if settings.PRODUCTION and settings.OMADATA_ALLOW_LOOPBACK_URLS:
        return [
            Error(
                "OMADATA_ALLOW_LOOPBACK_URLS is on in production.",
                hint="It lets services point the operator at its own host over http; "
                "it is for development and tests only. Remove it.",
                id="omadata.E001",
            )
        ]
    return []


@register(Tags.compatibility, deploy=True)
def production_backends(app_configs, **kwargs):
    problems = []
    if not settings.PRODUCTION:
        return problems
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning(
                "The database is SQLite.",
                hint="Set DATABASE_URL to PostgreSQL: several web servers and workers share it.",
                id="omadata.W001",
            )
        )
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        problems.append(
            Warning(
                "The task broker is not Redis.",
                hint="Set CELERY_BROKER_URL (or REDIS_URL) so that workers on every host share it.",
                id="omadata.W002",
            )
        )
    return problems
