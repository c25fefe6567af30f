from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security)
def loopback_urls_off_in_production(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
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


# Middleware a production operator must not run without, and what each one gives.
REQUIRED_MIDDLEWARE = {
    "csp.middleware.CSPMiddleware": "the Content-Security-Policy header, which keeps a "
    "script injected into a page from running",
    "common.middleware.RequestIdMiddleware": "each request's id, in its answer, its error body "
    "and its log lines",
    "common.middleware.PrivateNoStoreMiddleware": "Cache-Control: no-store on every answer to a "
    "signed-in user or a client with credentials",
    "common.middleware.RequestSizeLimitMiddleware": "the refusal of request bodies over "
    "OMADATA_MAX_REQUEST_BYTES",
}


@register(Tags.security, deploy=True)
def required_middleware(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if not settings.PRODUCTION:
        return []
    return [
        Error(
            f"{name} is not in MIDDLEWARE.",
            hint=f"It gives {gives}. Put it back in MIDDLEWARE (omadata/settings.py).",
            id="omadata.E003",
        )
        for name, gives in REQUIRED_MIDDLEWARE.items()
        if name not in settings.MIDDLEWARE
    ]


@register(Tags.compatibility, deploy=True)
def production_backends(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
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
    if settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        problems.append(
            Warning(
                "The cache that counts the rate limits is not shared between hosts.",
                hint="Set OMADATA_CACHE_URL (or a Redis CELERY_BROKER_URL) to Redis, so that "
                "every web process on every host counts each client's requests together.",
                id="omadata.W003",
            )
        )
    return problems


# The apps whose migrations began anew in 0.2, when the receipt log and the webhook
# outbox got apps of their own: a database that applied any migration of theirs that
# is not on disk now was made by 0.1.
_APPS_RESTARTED_IN_0_2 = ("ledger", "registry", "webhooks", "consent", "relay")


@register(Tags.database)
def database_not_from_release_0_1(
    app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """A database of Omadata 0.1 cannot be upgraded: say so before `migrate` fails obscurely."""
    from django.db import connections
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    problems: list[CheckMessage] = []
    on_disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    for alias in databases or []:
        recorder = MigrationRecorder(connections[alias])
        if not recorder.has_table():
            continue
        unknown = [
            key
            for key in recorder.applied_migrations()
            if key[0] in _APPS_RESTARTED_IN_0_2 and key not in on_disk
        ]
        if unknown:
            problems.append(
                Error(
                    f"The database {alias!r} was made by Omadata 0.1, which cannot be upgraded.",
                    hint="Start from a new database: with the embedded default, remove the "
                    "directory OMADATA_VAR_DIR names (var/ by default: the database, the "
                    "demo's state and keys go together); otherwise point DATABASE_URL at an "
                    "empty database.",
                    id="omadata.E002",
                )
            )
    return problems
