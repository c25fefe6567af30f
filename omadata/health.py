"""Is this operator able to work? Its database, task broker and signing key, each checked."""

import time

from django.conf import settings
from django.db import connection

from ledger import keys
from omadata.celery import app


def database_status() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "down"; the type says which
        return {"status": "down", "error": type(error).__name__}
    return {"status": "up", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def broker_status() -> dict:
    started = time.monotonic()
    timeout = settings.OMADATA_HEALTH_TIMEOUT
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            if conn.transport.driver_type == "redis":
                conn.default_channel.client.ping()
    except Exception as error:  # as above
        return {"status": "down", "error": type(error).__name__}
    transport = app.conf.broker_url.split(":", 1)[0]
    return {
        "status": "up",
        "transport": transport,
        "latency_ms": round((time.monotonic() - started) * 1000, 1),
    }


def signing_status() -> dict:
    """Whether receipts can be signed: in production the key must be published first."""
    try:
        ready = keys.signing_ready()
    except Exception as error:  # an unreadable key file or secret is "down" too
        return {"status": "down", "error": type(error).__name__}
    if not ready:
        return {"status": "down", "error": "signing_key_unpublished"}
    return {"status": "up"}
