"""A task that tells which PostgreSQL session ran it: loaded by test workers only."""

from pathlib import Path

from celery import shared_task
from django.db import connection


@shared_task(name="tests.backend_pid")
def backend_pid(path: str) -> None:
    """Append the id of the server process behind this worker's connection to `path`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with Path(path).open("a") as out:
        out.write(f"{pid}\n")
