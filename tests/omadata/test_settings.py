"""Deployment settings come from the environment and fail loudly when wrong."""

import json

import pytest
from django.test import Client

from common import env
from tests.factories import PASSWORD, register_service, source_spec
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


def test_malformed_request_id_header_names_the_variable():
    result = manage("check", env={**PRODUCTION, "OMADATA_REQUEST_ID_HEADER": "X Request: ID"})

    assert result.returncode != 0
    assert "OMADATA_REQUEST_ID_HEADER must be an HTTP header's name" in result.stderr


def test_malformed_integer_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")

    with pytest.raises(env.EnvError, match="PORT must be an integer"):
        env.env_int("PORT", 8000)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-2"])
def test_a_number_that_is_not_positive_and_finite_is_refused(monkeypatch, value):
    monkeypatch.setenv("OMADATA_OUTBOUND_TIMEOUT", value)

    with pytest.raises(env.EnvError, match="OMADATA_OUTBOUND_TIMEOUT must be a positive finite"):
        env.env_float("OMADATA_OUTBOUND_TIMEOUT", 10.0)


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


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        ("600/m", env.Rate(600, 60)),
        ("10/h", env.Rate(10, 3600)),
        ("100/10s", env.Rate(100, 10)),
        ("5/15m", env.Rate(5, 900)),
        ("1/d", env.Rate(1, 86400)),
        ("off", None),
    ],
)
def test_a_rate_is_requests_per_period(monkeypatch, value, rate):
    monkeypatch.setenv("OMADATA_RATE_ANONYMOUS", value)

    assert env.env_rate("OMADATA_RATE_ANONYMOUS", "1/s") == rate


@pytest.mark.parametrize("value", ["600", "600/minute", "0/m", "10/0s", "-1/m", "many/m"])
def test_a_malformed_rate_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("OMADATA_RATE_ANONYMOUS", value)

    with pytest.raises(env.EnvError, match="OMADATA_RATE_ANONYMOUS must"):
        env.env_rate("OMADATA_RATE_ANONYMOUS", "1/s")


def cache_in(environment: dict) -> str:
    """The default cache that the settings make of `environment`: backend and location."""
    show = (
        "from django.conf import settings; cache = settings.CACHES['default']; "
        "print(cache['BACKEND'], cache['LOCATION'])"
    )
    result = manage("shell", "-v", "0", "-c", show, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_cache_is_files_under_var_without_redis(tmp_path):
    found = cache_in({"OMADATA_VAR_DIR": str(tmp_path), "CELERY_BROKER_URL": "", "REDIS_URL": ""})

    assert found == f"django.core.cache.backends.filebased.FileBasedCache {tmp_path / 'cache'}"


def test_the_cache_is_the_brokers_redis_when_the_broker_is_redis(tmp_path):
    broker = {"CELERY_BROKER_URL": "", "REDIS_URL": "redis://redis.internal:6379/0"}

    found = cache_in({"OMADATA_VAR_DIR": str(tmp_path), **broker})

    assert found == "django.core.cache.backends.redis.RedisCache redis://redis.internal:6379/0"


def test_the_cache_url_wins_over_the_broker(tmp_path):
    found = cache_in(
        {
            **PRODUCTION,
            "OMADATA_VAR_DIR": str(tmp_path),
            "OMADATA_CACHE_URL": "redis://cache:6379/2",
        }
    )

    assert found == "django.core.cache.backends.redis.RedisCache redis://cache:6379/2"


def test_a_cache_url_that_is_not_redis_is_refused():
    result = manage("check", env={**PRODUCTION, "OMADATA_CACHE_URL": "memcached://cache:11211"})

    assert result.returncode != 0
    assert "OMADATA_CACHE_URL must be a redis:// or rediss:// URL" in result.stderr


def test_production_without_a_shared_cache_warns_on_deploy_check():
    unshared = {**PRODUCTION, "CELERY_BROKER_URL": "", "REDIS_URL": "", "OMADATA_CACHE_URL": ""}

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=unshared)

    assert result.returncode != 0
    assert "omadata.W003" in result.stderr


def test_production_cookies_are_host_only_secure_and_site_wide(settings, aino):
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, "
        "name) for name in ['SESSION_COOKIE_NAME', 'CSRF_COOKIE_NAME', 'SESSION_COOKIE_SECURE', "
        "'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_PATH', 'CSRF_COOKIE_PATH', "
        "'SESSION_COOKIE_DOMAIN', 'CSRF_COOKIE_DOMAIN']}))"
    )
    result = manage("shell", "-c", script, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    production = json.loads(result.stdout.splitlines()[-1])
    for name, value in production.items():
        setattr(settings, name, value)
    client = Client()

    login_page = client.get("/accounts/login/", secure=True)
    answer = client.post(
        "/accounts/login/", {"username": "aino", "password": PASSWORD}, secure=True
    )

    assert answer.status_code == 302
    cookies = {**login_page.cookies, **answer.cookies}
    assert set(cookies) == {"__Host-sessionid", "__Host-csrftoken"}
    for cookie in cookies.values():
        # What a browser requires of a __Host- cookie, or it drops it.
        assert cookie["secure"] is True
        assert cookie["path"] == "/"
        assert cookie["domain"] == ""


def _production_settings(settings, prefix: str) -> None:
    """Set on `settings` those whose name starts with `prefix`, as production has them."""
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, "
        f"name) for name in dir(s) if name.startswith({prefix!r})}}))"
    )
    result = manage("shell", "-c", script, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    for name, value in json.loads(result.stdout.splitlines()[-1]).items():
        setattr(settings, name, value)


def test_production_language_cookie_is_host_only_secure_http_only_and_same_site(settings):
    _production_settings(settings, "LANGUAGE_COOKIE_")

    answer = Client().post("/i18n/setlang/", {"language": "sv", "next": "/"}, secure=True)

    assert answer.status_code == 302
    assert list(answer.cookies) == ["__Host-language"]
    cookie = answer.cookies["__Host-language"]
    assert cookie.value == "sv"
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""


def test_production_language_cookie_chooses_the_language(settings, db):
    _production_settings(settings, "LANGUAGE_COOKIE_")
    client = Client()
    client.post("/i18n/setlang/", {"language": "sv", "next": "/"}, secure=True)

    page = client.get("/", secure=True)

    assert page["Content-Language"] == "sv"


def test_a_message_to_staff_travels_in_the_session_not_in_a_cookie(
    staff, source_provider, data_types
):
    service = register_service(source_provider, source_spec())
    client = Client()
    client.force_login(staff)

    answer = client.post(
        "/admin/registry/service/",
        {"action": "approve", "_selected_action": str(service.pk), "index": "0"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert answer.status_code == 302
    assert "messages" not in answer.cookies
    assert "1 service approved." in client.get(answer["Location"]).content.decode()


def test_deploy_check_fails_without_the_csp_middleware(tmp_path):
    (tmp_path / "without_csp.py").write_text(
        "from omadata.settings import *\n"
        "MIDDLEWARE = [m for m in MIDDLEWARE if m != 'csp.middleware.CSPMiddleware']\n"
    )
    env = {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "without_csp", "PYTHONPATH": str(tmp_path)}

    result = manage("check", "--deploy", env=env)

    assert result.returncode != 0
    assert "omadata.E003" in result.stderr
    assert "csp.middleware.CSPMiddleware" in result.stderr


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


def database_in(environment: dict) -> dict:
    """How long the settings keep a database session, and its options, for `environment`."""
    show = (
        "import json; from django.conf import settings; db = settings.DATABASES['default']; "
        "print(json.dumps({'age': db['CONN_MAX_AGE'], 'options': db.get('OPTIONS', {})}))"
    )
    result = manage("shell", "-v", "0", "-c", show, env=environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_sessions_are_kept_and_repeated_statements_prepared(tmp_path):
    found = database_in({**PRODUCTION, "OMADATA_VAR_DIR": str(tmp_path)})

    assert found == {"age": 60, "options": {"server_side_binding": True, "prepare_threshold": 5}}


def test_prepared_statements_are_off_with_a_threshold_of_zero(tmp_path):
    environment = {**PRODUCTION, "OMADATA_VAR_DIR": str(tmp_path)}

    found = database_in({**environment, "DATABASE_PREPARE_THRESHOLD": "0"})

    assert found["options"] == {"server_side_binding": False, "prepare_threshold": None}


def test_sqlite_opens_a_connection_per_request(tmp_path):
    found = database_in({"OMADATA_VAR_DIR": str(tmp_path), "DATABASE_URL": ""})

    assert found["age"] == 0
