"""Deployment settings come from the environment and fail loudly when wrong."""

import pytest

from common import env
from tests.servers import manage

PRODUCTION = {
    "OMADATA_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-like-secret-key-for-tests-only-0123456789",
    "ALLOWED_HOSTS": "omadata.example.fi",
    "OMADATA_BASE_URL": "https://omadata.example.fi",
    "DATABASE_URL": "postgres://omadata@127.0.0.1:5432/omadata",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "OMADATA_ALLOW_LOOPBACK_URLS": "",
}


def test_production_like_environment_passes_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "ALLOWED_HOSTS", "OMADATA_BASE_URL"])
def test_production_refuses_to_start_without(missing):
    result = manage("check", env={**PRODUCTION, missing: ""})

    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_refuses_a_plain_http_base_url():
    result = manage("check", env={**PRODUCTION, "OMADATA_BASE_URL": "http://omadata.example.fi"})

    assert result.returncode != 0
    assert "OMADATA_BASE_URL must be an https:// URL" in result.stderr


def test_loopback_urls_in_production_fail_the_system_check():
    result = manage("check", env={**PRODUCTION, "OMADATA_ALLOW_LOOPBACK_URLS": "true"})

    assert result.returncode != 0
    assert "omadata.E001" in result.stderr


def test_production_with_sqlite_and_embedded_broker_warns_on_deploy_check():
    embedded = {**PRODUCTION, "DATABASE_URL": "", "CELERY_BROKER_URL": ""}

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=embedded)

    assert result.returncode != 0
    assert "omadata.W001" in result.stderr
    assert "omadata.W002" in result.stderr


def test_retry_wait_longer_than_the_visibility_timeout_is_refused():
    too_long = {"CELERY_VISIBILITY_TIMEOUT": "600", "OMADATA_NOTIFY_BACKOFF_CAP": "600"}

    result = manage("check", env={**PRODUCTION, **too_long})

    assert result.returncode != 0
    assert "OMADATA_NOTIFY_BACKOFF_CAP must be shorter than CELERY_VISIBILITY_TIMEOUT" in (
        result.stderr
    )


def test_malformed_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("OMADATA_ALLOW_LOOPBACK_URLS", "perhaps")

    with pytest.raises(env.EnvError, match="OMADATA_ALLOW_LOOPBACK_URLS must be a boolean"):
        env.env_bool("OMADATA_ALLOW_LOOPBACK_URLS", False)


def test_malformed_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")

    with pytest.raises(env.EnvError, match="PORT must be an integer"):
        env.env_int("PORT", 8000)


def test_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("OMADATA_ENV", "staging")

    with pytest.raises(env.EnvError, match="OMADATA_ENV must be one of"):
        env.env_choice("OMADATA_ENV", "development", ("development", "production"))


def test_local_secret_is_created_once_with_owner_only_access(tmp_path):
    path = tmp_path / "secret_key"

    first = env.local_secret(path)

    assert len(first) >= 50
    assert path.stat().st_mode & 0o777 == 0o600
    assert env.local_secret(path) == first


def test_allowed_ports_are_read_as_numbers(monkeypatch):
    monkeypatch.setenv("OMADATA_ALLOWED_PORTS", "8443, 9443")

    assert env.env_ports("OMADATA_ALLOWED_PORTS") == (8443, 9443)


@pytest.mark.parametrize("value", ["https", "0", "65536", "-1", "8443;9443"])
def test_malformed_allowed_ports_name_the_variable(monkeypatch, value):
    monkeypatch.setenv("OMADATA_ALLOWED_PORTS", value)

    with pytest.raises(env.EnvError, match="OMADATA_ALLOWED_PORTS must list port numbers"):
        env.env_ports("OMADATA_ALLOWED_PORTS")


def test_malformed_allowed_ports_stop_the_process():
    result = manage("check", env={**PRODUCTION, "OMADATA_ALLOWED_PORTS": "ssh"})

    assert result.returncode != 0
    assert "OMADATA_ALLOWED_PORTS must list port numbers" in result.stderr
