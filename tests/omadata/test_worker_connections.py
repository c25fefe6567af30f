"""Workers keep their database session between tasks, as DATABASE_CONN_MAX_AGE says.

Celery's own Django fixup closes every connection around each task; omadata/celery.py
applies Django's rule instead (close only what is obsolete or broken).
"""

import pytest

from omadata.celery import app
from tests.servers import wait_for
from tests.workers import start_worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def backend_pids(broker, tmp_path, *, max_age: str, tasks: int = 3) -> list[str]:
    """The PostgreSQL server process behind each of `tasks` tasks run by one worker, in turn."""
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
