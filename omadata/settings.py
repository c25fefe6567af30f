"""Omadata settings: one module, every deployment value from the environment.

`OMADATA_ENV=production` switches on the production rules: no generated
secrets, https only, secure cookies, no loopback service URLs. The README lists
every variable with its default and its production value.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.conf import global_settings
from django.utils.translation import gettext_lazy as _

from common.env import (
    EnvError,
    env_bool,
    env_choice,
    env_float,
    env_header_name,
    env_int,
    env_list,
    env_ports,
    env_rate,
    env_required,
    env_str,
    local_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
OMADATA_ENV = env_choice("OMADATA_ENV", "development", ("development", "production"))
PRODUCTION = OMADATA_ENV == "production"
VAR_DIR = Path(env_str("OMADATA_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise EnvError("DJANGO_DEBUG must not be on when OMADATA_ENV=production")

if PRODUCTION:
    SECRET_KEY = env_required("DJANGO_SECRET_KEY")
else:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY") or local_secret(VAR_DIR / "secret_key")

PORT = env_int("PORT", 8000, minimum=1)
if PRODUCTION:
    BASE_URL = env_required("OMADATA_BASE_URL").rstrip("/")
    if not BASE_URL.startswith("https://"):
        raise EnvError("OMADATA_BASE_URL must be an https:// URL in production")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise EnvError("ALLOWED_HOSTS must be set in production")
else:
    BASE_URL = env_str("OMADATA_BASE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = [BASE_URL]
CSRF_FAILURE_VIEW = "omadata.views.csrf_failure"

# Service endpoint URLs must be https on public addresses. Development and the
# test suite run their services on loopback over http; this switch allows that
# and nothing else, and a system check refuses it in production.
OMADATA_ALLOW_LOOPBACK_URLS = env_bool("OMADATA_ALLOW_LOOPBACK_URLS", not PRODUCTION)
# Public hosts are reached over https on port 443 and on these ports besides
# (common/netguard.py says why): a service with an endpoint on 8443, say.
OMADATA_ALLOWED_PORTS = env_ports("OMADATA_ALLOWED_PORTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "omadata",
    "common",
    "ledger",
    "registry",
    "webhooks",
    "consent",
    "relay",
    "portability",
    "audit",
    "demo",
]

# omadata.E003 (omadata/checks.py) refuses a production deployment without the
# operator's own middleware or django-csp's.
MIDDLEWARE = [
    "common.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.RequestSizeLimitMiddleware",
    "common.middleware.NulCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "common.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "omadata.language.LanguageChoiceMiddleware",
    "common.middleware.PrivateNoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "common.middleware.UnavailableMiddleware",
    "omadata.lockout.LoginAddressLimitMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "omadata.urls"
WSGI_APPLICATION = "omadata.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "audit.context.audit_navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'omadata.sqlite3'}"),
        conn_health_checks=True,
    )
}
_POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# A PostgreSQL session costs ~5 ms to open: each process keeps its own for this
# long, checked before each request's first query (conn_health_checks) so that
# one the server closed is replaced rather than failing the request.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60 if _POSTGRESQL else 0)
if _POSTGRESQL:
    # Parameters bound by the server, and a statement sent this many times in a
    # session prepared, so PostgreSQL plans it once (docs/operating.md has the
    # figures). Off (0) behind a pooler in transaction mode that cannot keep them.
    _prepare = env_int("DATABASE_PREPARE_THRESHOLD", 5)
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": _prepare > 0,
        "prepare_threshold": _prepare or None,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the workers share the file: WAL lets readers go on
    # while one writes, and IMMEDIATE transactions queue writers instead of
    # failing them with "database is locked" halfway through.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords: Django's slow default first. OAuth2 client secrets, 256 random
# bits each, are stored with the last one (OAUTH2_PROVIDER's CLIENT_SECRET_HASHER
# below, omadata/hashers.py says why); it must stay listed for them to verify.
PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "omadata.hashers.ClientSecretHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Logins (/accounts/login/ and /admin/login/) lock after too many failures, for
# one user name from one address only: an attacker cannot lock a resident out
# from everywhere. django-axes counts the failures in the database, which every
# process shares, with row locks, so parallel guesses count exactly. Many more
# failures from one address, whatever the user names, lock that address
# (OMADATA_RATE_LOGIN_ADDRESS below). A lockout writes an audit event (omadata/lockout.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("OMADATA_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("OMADATA_LOGIN_COOLOFF", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A try during the lockout neither counts nor extends it: the page's "try again
# at" holds, and a lockout is recorded once, not once per refused try.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not the audit trail's business
AXES_VERBOSE = False  # no banner in every process's log; failures and lockouts are still logged
# Staff see each lockout as an audit event; axes' own tables are its working counts.
AXES_ENABLE_ADMIN = False
AXES_CLIENT_IP_CALLABLE = "common.http.client_address"
AXES_USERNAME_CALLABLE = "omadata.lockout.login_username"
AXES_LOCKOUT_CALLABLE = "omadata.lockout.lockout_response"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "fi"
LANGUAGES = [("fi", _("Finnish")), ("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Helsinki"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("OMADATA_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Request bodies: the API refuses anything larger with a 413 before parsing it.
OMADATA_MAX_REQUEST_BYTES = env_int("OMADATA_MAX_REQUEST_BYTES", 256 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = OMADATA_MAX_REQUEST_BYTES
# The largest export file a resident may upload to bring their history here (413 over it).
OMADATA_IMPORT_MAX_BYTES = env_int("OMADATA_IMPORT_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)

# Security headers. Production adds https-only rules below; the proxy in front
# terminates TLS and says so with X-Forwarded-Proto.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# No script of the site reads the language; a link from elsewhere keeps it (Lax).
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Staff's messages (the admin's "2 services approved") ride in the session, which
# is signed in and server-side, not in a cookie of their own beside it.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix makes browsers refuse these cookies unless they are Secure,
    # for the whole site (path /) and for this host alone (no Domain): no other host
    # under the city's domain, nor plain http, can set or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_NAME = "__Host-language"
    SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = LANGUAGE_COOKIE_PATH = "/"
    SESSION_COOKIE_DOMAIN = CSRF_COOKIE_DOMAIN = LANGUAGE_COOKIE_DOMAIN = None

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "common.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "common.throttles.ApiClientThrottle",
        "registry.throttles.ApiOrganisationThrottle",
        "common.throttles.AnonymousThrottle",
    ],
}
# The most items a list's page holds: a larger `limit` is a 400 (common/pagination.py).
OMADATA_PAGE_MAX_LIMIT = env_int("OMADATA_PAGE_MAX_LIMIT", 100, minimum=1)

# Rate limits (common/throttles.py), each `N/PERIOD` (`600/m`, `100/10s`) or `off`.
# docs/operating.md says why these defaults are fair to real services.
OMADATA_RATE_API_CLIENT = env_rate("OMADATA_RATE_API_CLIENT", "600/m")
OMADATA_RATE_API_ORGANISATION = env_rate("OMADATA_RATE_API_ORGANISATION", "1200/m")
OMADATA_RATE_ANONYMOUS = env_rate("OMADATA_RATE_ANONYMOUS", "300/m")
OMADATA_RATE_CHECKPOINT_SIGN = env_rate("OMADATA_RATE_CHECKPOINT_SIGN", "10/h")
# Failed requests only, per client_id and address, and per client_id from anywhere.
OMADATA_RATE_TOKEN_CLIENT_ADDRESS = env_rate("OMADATA_RATE_TOKEN_CLIENT_ADDRESS", "30/m")
OMADATA_RATE_TOKEN_CLIENT = env_rate("OMADATA_RATE_TOKEN_CLIENT", "300/m")
OMADATA_RATE_TOKEN_ADDRESS = env_rate("OMADATA_RATE_TOKEN_ADDRESS", "120/m")
# Failed logins per address, whatever user names they try (omadata/lockout.py).
OMADATA_RATE_LOGIN_ADDRESS = env_rate("OMADATA_RATE_LOGIN_ADDRESS", "100/15m")
# How many OAuth2 clients (credentials) one organisation may hold.
OMADATA_MAX_CREDENTIALS = env_int("OMADATA_MAX_CREDENTIALS", 20, minimum=1)
# Whose address a request counts against (common/http.py): the peer's, or behind
# proxies that append to X-Forwarded-For, the one the outermost saw. Logins too.
OMADATA_PROXY_COUNT = env_int("OMADATA_PROXY_COUNT", 0)

# OAuth2 scopes a service provider's client may ask for. Later capabilities
# add theirs here; the token endpoint refuses any other.
OMADATA_PROVIDER_SCOPES = {
    "services:read": "Read your organisation's services",
    "services:write": "Register and change your organisation's services",
    "consents:request": "Ask residents for consent on behalf of your sinks",
    "consents:read": "Read the consents that concern your services, with their receipts",
    "links:write": "Confirm residents' account links to your services",
    "transfers:write": "Ask for transfers of data to your sinks under residents' consents",
    "transfers:read": "Read the transfers to your sinks, with their attempts and outcomes",
}
# An auditor's client holds this one alone (omadata/oauth.py AudienceScopes).
OMADATA_AUDITOR_SCOPES = {
    "audit:read": "Read the receipt log and sign checkpoints on demand (auditors only)",
}
OMADATA_SCOPES = OMADATA_PROVIDER_SCOPES | OMADATA_AUDITOR_SCOPES
# A validated access token is kept this long in the cache (never past its
# expiry): an owner deactivated or a membership removed ends its tokens within
# this time; revoking a token or credential ends them at once (registry/tokens.py).
# 0 reads every token from the database.
OMADATA_TOKEN_CACHE_SECONDS = env_int("OMADATA_TOKEN_CACHE_SECONDS", 10, minimum=0)
OAUTH2_PROVIDER = {
    "SCOPES": dict(OMADATA_SCOPES),
    "DEFAULT_SCOPES": list(OMADATA_PROVIDER_SCOPES),
    "SCOPES_BACKEND_CLASS": "omadata.oauth.AudienceScopes",
    "OAUTH2_VALIDATOR_CLASS": "omadata.oauth.Validator",
    "CLIENT_SECRET_HASHER": "sha256_secret",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OMADATA_ACCESS_TOKEN_SECONDS", 3600, minimum=60),
    # Follow the OAuth 2.0 Security BCP (RFC 9700) everywhere: tokens stored
    # hashed, never in query strings, no implicit or password grants.
    **{
        f"COMPLIANT_BCP_RFC9700_{part}": True
        for part in (
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "TOKEN_STORAGE",
            "REFRESH_TOKEN",
            "REDIRECT_URI_SCHEME",
            "REDIRECT_URI_MATCHING",
            "PKCE_REQUIRED",
        )
    },
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Omadata operator API",
    "DESCRIPTION": (
        "The API of Omadata, a MyData operator. Service providers register data "
        "sources and sinks with OAuth2 client-credentials tokens. Every error is "
        'JSON: `{"code": ..., "message": ..., "fields": [...], "request_id": ...}` with a '
        "stable code; every answer carries its request's id in `X-Request-ID`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ServiceStatusEnum": "registry.models.Service.Status",
        "ConsentStatusEnum": "consent.models.Consent.Status",
        "ConsentRequestStatusEnum": "consent.models.ConsentRequest.Status",
        "FrequencyEnum": "consent.models.Frequency",
        "TransferStatusEnum": "relay.models.Transfer.Status",
        "TransferAttemptOutcomeEnum": "relay.models.TransferAttempt.Outcome",
    },
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": f"{BASE_URL}/o/token/",
    "OAUTH2_SCOPES": OMADATA_SCOPES,
}

# Celery. The default broker needs no server: kombu's filesystem transport
# keeps each message as a file under var/, shared by every process on this
# machine and kept across restarts. Production points it at Redis.
_broker_dir = VAR_DIR / "broker"
# Redis hands a message that a worker has not acknowledged within this many
# seconds to another worker: it must outlast any task's run and retry countdown.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=10)
CELERY_BROKER_URL = (
    env_str("CELERY_BROKER_URL") or env_str("REDIS_URL") or "filesystem://localhost/"
)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 4.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# The cache holds the rate limits' counts, so every web process must see the
# same one: Redis (OMADATA_CACHE_URL, or else the broker's Redis), shared by
# every host; without Redis, files under var/, shared by the processes of this
# machine and needing no server (the system check warns of that in production).
_cache_url = env_str("OMADATA_CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None
)
if _cache_url is not None and not _cache_url.startswith(("redis://", "rediss://")):
    raise EnvError(f"OMADATA_CACHE_URL must be a redis:// or rediss:// URL, not {_cache_url!r}")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "omadata",
            # A cache that does not answer at once is skipped (the limits let the
            # request through), rather than held against every API request.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if _cache_url
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # A count per client and limit: room for many, culled only past this.
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    )
}

# Requests to services (common/outbound.py): one deadline covers a whole
# request, connect to last byte, and a service's answer is read up to a cap.
OMADATA_OUTBOUND_TIMEOUT = env_float("OMADATA_OUTBOUND_TIMEOUT", 10.0)
OMADATA_OUTBOUND_MAX_BYTES = env_int("OMADATA_OUTBOUND_MAX_BYTES", 10 * 1024 * 1024, minimum=1)

# Webhook notifications: a transient failure is retried after a random wait of
# up to min(cap, base * 2**tries) seconds, until the attempts run out.
OMADATA_NOTIFY_BACKOFF_BASE = env_float("OMADATA_NOTIFY_BACKOFF_BASE", 2.0)
OMADATA_NOTIFY_BACKOFF_CAP = env_float("OMADATA_NOTIFY_BACKOFF_CAP", 600.0)
OMADATA_NOTIFY_MAX_ATTEMPTS = env_int("OMADATA_NOTIFY_MAX_ATTEMPTS", 10, minimum=1)
if OMADATA_NOTIFY_BACKOFF_CAP >= CELERY_VISIBILITY_TIMEOUT:
    # A retry waits in a worker, unacknowledged, for its countdown: a countdown
    # past the visibility timeout would make Redis hand it to a second worker.
    raise EnvError(
        "OMADATA_NOTIFY_BACKOFF_CAP must be shorter than CELERY_VISIBILITY_TIMEOUT "
        f"({OMADATA_NOTIFY_BACKOFF_CAP:g} >= {CELERY_VISIBILITY_TIMEOUT})"
    )

# Transfers (relay/): the operator's token for a source or a sink lives this long;
# a source's answer is relayed up to this size; a transient failure is tried
# again after a random wait of up to min(cap, base * 2**tries) seconds.
OMADATA_TRANSFER_TOKEN_SECONDS = env_int("OMADATA_TRANSFER_TOKEN_SECONDS", 120, minimum=10)
OMADATA_TRANSFER_MAX_BYTES = env_int("OMADATA_TRANSFER_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
OMADATA_RELAY_BACKOFF_BASE = env_float("OMADATA_RELAY_BACKOFF_BASE", 2.0)
OMADATA_RELAY_BACKOFF_CAP = env_float("OMADATA_RELAY_BACKOFF_CAP", 600.0)
OMADATA_RELAY_MAX_ATTEMPTS = env_int("OMADATA_RELAY_MAX_ATTEMPTS", 8, minimum=1)
# A sink's unfinished transfers (queued, fetching, delivering), across all its
# consents: one sink cannot fill the relay's queue for every other.
OMADATA_SINK_MAX_UNFINISHED_TRANSFERS = env_int(
    "OMADATA_SINK_MAX_UNFINISHED_TRANSFERS", 1000, minimum=1
)
if OMADATA_RELAY_BACKOFF_CAP >= CELERY_VISIBILITY_TIMEOUT:
    # The same reason as for notifications: a countdown must end before Redis gives up on it.
    raise EnvError(
        "OMADATA_RELAY_BACKOFF_CAP must be shorter than CELERY_VISIBILITY_TIMEOUT "
        f"({OMADATA_RELAY_BACKOFF_CAP:g} >= {CELERY_VISIBILITY_TIMEOUT})"
    )

# The sweeper re-enqueues pending work whose time is this long past: the broker
# was down when it was queued, or a worker died with it. Beat runs it.
OMADATA_SWEEP_AFTER = env_float("OMADATA_SWEEP_AFTER", 60.0)
OMADATA_SWEEP_INTERVAL = env_float("OMADATA_SWEEP_INTERVAL", 30.0)
# How often beat creates the transfers recurring consents are due: a scheduled
# transfer starts up to this long after its time.
OMADATA_SCHEDULE_INTERVAL = env_float("OMADATA_SCHEDULE_INTERVAL", 60.0)
# How often the whole receipt log is checked for the audit pages (audit/integrity.py).
OMADATA_INTEGRITY_INTERVAL = env_float("OMADATA_INTEGRITY_INTERVAL", 3600.0)
# The log's maximum merge delay: the longest a receipt waits in the sequencer's queue
# before it is in the tree and an inclusion proof exists (docs/operating.md, "The
# log sequencer"). Beat runs the sequencer at half this interval, so a run that finds
# the log busy or the queue arriving just after it still leaves a second chance.
OMADATA_LOG_MERGE_DELAY = env_float("OMADATA_LOG_MERGE_DELAY", 10.0)
if OMADATA_LOG_MERGE_DELAY < 1:
    raise EnvError("OMADATA_LOG_MERGE_DELAY must be at least 1 second")
# The most receipts one sequencer transaction integrates.
OMADATA_LOG_BATCH = env_int("OMADATA_LOG_BATCH", 1000, minimum=1)
if OMADATA_LOG_BATCH > 10000:
    # A batch's queue ids are parameters of one statement (SQLite takes 32766).
    raise EnvError("OMADATA_LOG_BATCH must be at most 10000")
CELERY_BEAT_SCHEDULE = {
    "integrate-log": {
        "task": "ledger.log_integrate",
        "schedule": OMADATA_LOG_MERGE_DELAY / 2,
        # A run that waited half the delay in the queue is stale: the next one is due.
        "options": {"expires": OMADATA_LOG_MERGE_DELAY / 2},
    },
    "sign-log-checkpoint": {
        "task": "ledger.checkpoint_sign",
        "schedule": env_float("OMADATA_CHECKPOINT_INTERVAL", 300.0),
    },
    "check-log-integrity": {
        "task": "audit.integrity_check",
        "schedule": OMADATA_INTEGRITY_INTERVAL,
        # One check at a time is enough: a check that waited an interval is stale.
        "options": {"expires": OMADATA_INTEGRITY_INTERVAL},
    },
    "expire-consents": {
        "task": "consent.consent_expire",
        "schedule": env_float("OMADATA_EXPIRY_INTERVAL", 60.0),
    },
    "notification-sweep": {
        "task": "webhooks.notification_sweep",
        "schedule": OMADATA_SWEEP_INTERVAL,
        # A sweep that waited a whole interval in the queue is stale: the next one is due.
        "options": {"expires": OMADATA_SWEEP_INTERVAL},
    },
    "transfer-sweep": {
        "task": "relay.transfer_sweep",
        "schedule": OMADATA_SWEEP_INTERVAL,
        "options": {"expires": OMADATA_SWEEP_INTERVAL},
    },
    "transfer-schedule": {
        "task": "relay.transfer_schedule",
        "schedule": OMADATA_SCHEDULE_INTERVAL,
        "options": {"expires": OMADATA_SCHEDULE_INTERVAL},
    },
}

# Consent terms: the longest validity a sink may ask for, how long a request
# waits for the resident, how long a single-use link token lives, and how long
# the resident's browser has to come back to Omadata once the source confirmed it.
OMADATA_MAX_CONSENT_DAYS = env_int("OMADATA_MAX_CONSENT_DAYS", 365, minimum=1)
OMADATA_CONSENT_REQUEST_SECONDS = env_int("OMADATA_CONSENT_REQUEST_SECONDS", 86400, minimum=60)
OMADATA_LINK_TOKEN_SECONDS = env_int("OMADATA_LINK_TOKEN_SECONDS", 600, minimum=30)
OMADATA_LINK_RETURN_SECONDS = env_int("OMADATA_LINK_RETURN_SECONDS", 300, minimum=30)
OMADATA_MAX_RECURRING_LIMIT = 1000
# A consent joins at most this many sources: each is a link the resident makes
# and a part every transfer fetches, and the consent screen lists them all.
OMADATA_MAX_CONSENT_SOURCES = 5

# The operator's signing keys (ledger/keys.py says where each kind comes from).
OMADATA_KEYS_DIR = Path(env_str("OMADATA_KEYS_DIR", str(VAR_DIR / "keys")))

# /health gives each dependency this long to answer before calling it down.
OMADATA_HEALTH_TIMEOUT = env_float("OMADATA_HEALTH_TIMEOUT", 2.0)

# Each request's id (common/correlation.py) is the operator's own, unless a proxy in
# front is trusted to give one: then this names the header it sets, e.g. X-Request-ID.
OMADATA_REQUEST_ID_HEADER = env_header_name("OMADATA_REQUEST_ID_HEADER")

# One form for every process's log lines: a UTC timestamp in ISO 8601 with a Z
# (omadata/log.py says why UTC), the id of the request or task it was written for,
# control characters escaped, and each record written once, by the root's
# handler. So Django's loggers lose the console handler Django adds when DEBUG
# is on (and its admin mail handler: ADMINS is empty), runserver's request lines
# come here, and Celery leaves the root logger to this configuration. An
# expected 4xx is one line without a traceback; a 5xx keeps its traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "client_error": {"()": "omadata.log.ClientErrorWithoutTraceback"},
        "request_id": {"()": "omadata.log.RequestIdFilter"},
    },
    "formatters": {"plain": {"()": "omadata.log.UTCFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            # On the handler, so that it sees the records of every logger: django.request's
            # 4xx lines and django.security's refusals (a SuspiciousOperation is a 400).
            "filters": ["request_id", "client_error"],
        }
    },
    "loggers": {
        "django": {"handlers": []},
        "django.server": {"handlers": [], "propagate": True},
        # django-axes says INFO for every step of every failed login; its warnings suffice.
        "axes": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = int(timedelta(hours=8).total_seconds())
