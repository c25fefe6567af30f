import pytest
from django.db import OperationalError, connection

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


@pytest.mark.redis
def test_health_reports_redis_broker_up(client, broker):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["transport"] == "redis"


@pytest.mark.redis
def test_health_is_503_when_redis_stops(client, broker):
    assert client.get("/health").status_code == 200
    broker.stop()

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "up"


def test_health_says_the_signing_key_is_up(client):
    assert client.get("/health").json()["checks"]["signing"] == {"status": "up"}


def test_health_is_503_while_the_production_key_is_unpublished(client, settings, monkeypatch):
    from ledger import keys

    settings.PRODUCTION = True
    key = keys.new_key()
    monkeypatch.setenv(
        "OMADATA_SIGNING_KEY", key.export_to_pem(private_key=True, password=None).decode()
    )

    response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["checks"]["signing"] == {
        "status": "down",
        "error": "signing_key_unpublished",
    }
