import pytest
from django.db import OperationalError, connection

from omadata.celery import app
from tests.servers import redis_server

pytestmark = pytest.mark.django_db


def test_health_is_ok_with_database_and_broker_up(client):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["broker"]["status"] == "up"


def test_health_is_503_when_the_database_is_down(client, monkeypatch):
    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", unreachable)

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "down", "error": "OperationalError"}


def test_health_is_not_cached(client):
    assert "no-cache" in client.get("/health")["Cache-Control"]


@pytest.fixture
def broker_at(monkeypatch):
    # Celery lets the environment's CELERY_BROKER_URL win over its configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options")}

    def point(url: str) -> None:
        app.conf.update(broker_url=url, broker_transport_options={})

    yield point
    app.conf.update(saved)


@pytest.mark.redis
def test_health_reports_redis_broker_up(client, broker_at):
    with redis_server() as redis:
        broker_at(redis.url)

        response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["transport"] == "redis"


@pytest.mark.redis
def test_health_is_503_when_redis_stops(client, broker_at):
    with redis_server() as redis:
        broker_at(redis.url)
        assert client.get("/health").status_code == 200
        redis.stop()

        response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "up"
