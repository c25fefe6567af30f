"""Workers keep their database session between tasks, as DATABASE_CONN_MAX_AGE says.

Celery's own Django fixup closes every connection around each task; omadata/celery.py
applies Django's rule instead (close only what is obsolete or broken).
"""

import pytest
from django.db import connection

from omadata.celery import app
from tests.servers import wait_for
from tests.workers import start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def backend_pids(broker, tmp_path, *, max_age: str, tasks: int = 3, between=None) -> list[str]:
    """The PostgreSQL server process behind each of `tasks` tasks run by one worker, in turn.

    `between(pids)`, if given, runs after each task but the last, with the pids so far."""
    out = tmp_path / "pids"

    def written() -> int:
        return len(out.read_text().split()) if out.exists() else 0

    worker = start_worker(
        broker_url=broker.url, folder=tmp_path, name="probe",
        include="tests.omadata.worker_probe", DATABASE_CONN_MAX_AGE=max_age,
    )  # fmt: skip
    try:
        for done in range(1, tasks + 1):  # one at a time: each runs after the one before
            app.send_task("tests.backend_pid", args=[str(out)])
            wait_for(lambda done=done: written() == done, timeout=30)
            if between is not None and done < tasks:
                between(out.read_text().split())
    except TimeoutError:
        pytest.fail(f"the worker did not run the tasks:\n{worker.log_path.read_text()}")
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    return out.read_text().split()


def test_worker_runs_its_tasks_in_one_database_session(broker, tmp_path):
    pids = backend_pids(broker, tmp_path, max_age="60")

    assert len(pids) == 3
    assert len(set(pids)) == 1


def test_worker_opens_a_session_per_task_when_connections_are_not_kept(broker, tmp_path):
    pids = backend_pids(broker, tmp_path, max_age="0")

    assert len(set(pids)) == 3


def test_worker_replaces_a_session_the_database_server_dropped(broker, tmp_path):
    """As a PostgreSQL restart or failover does: the kept session is gone, the next task
    finds it broken before use and runs on a new one, instead of failing."""

    def drop(pids: list[str]) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [int(pids[-1])])
            assert cursor.fetchone() == (True,)

    pids = backend_pids(broker, tmp_path, max_age="60", tasks=3, between=drop)

    assert len(pids) == 3
    assert len(set(pids)) == 3
