"""OpenMDMR settings: everything that differs between machines comes from the environment.

Embedded default (``make run``, tests): SQLite file under var/, Celery eager, local-memory cache.
At scale: ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` and ``REDIS_URL`` (Redis).
Production values: ``DEBUG=0 SECRET_KEY=... ALLOWED_HOSTS=... HTTPS=1`` (``check --deploy`` clean).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OPENMDMR_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# A development key only: `check --deploy` flags it, production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-openmdmr-development-key-not-secret"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "portal.apps.OpenMdmrAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "portal",
    "ldc",
    "meters",
    "billing",
    "customers",
    "oauth2_provider",
    "connect",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.SecurityHeadersMiddleware",
    "portal.middleware.SessionIdleTimeoutMiddleware",
    "portal.middleware.RequestContextMiddleware",
    "portal.localtime.LocalTimeMiddleware",
    "portal.middleware.StaffTwoFactorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "portal.User"

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
                "csp.context_processors.nonce",
                "portal.context_processors.navigation",
            ],
            # The display policy's filters (moment, day, weekday, clock, count, changes) in
            # every template without a {% load %}.
            "builtins": ["portal.templatetags.display"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'openmdmr.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Bulk statements here are simple and many: JIT compilation only adds ~0.5 s to each.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the ingest worker write while pages read; a busy wait instead of "locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: no broker configured means eager mode (tasks run in the caller, no service needed).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task whose worker died is redelivered after this many seconds (Redis broker).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", 3600))
}
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-read-files": {
        "task": "meters.tasks.resume_stalled_read_files",
        "schedule": 300.0,
    },
    # Yesterday's VEE for every LDC, after the head-ends' night deliveries (11:00 UTC = 6-7 a.m.).
    "vee-daily-sweep": {"task": "meters.tasks.vee_daily_sweep_all", "schedule": 86400.0},
    # Connect My Data: notifications whose next attempt is due (retries with growing waits).
    "connect-retry-notifications": {
        "task": "connect.tasks.retry_notifications",
        "schedule": 300.0,
    },
    # VEE runs that failed (issue 20): tried again until they pass; their files say so meanwhile.
    "vee-failures-retry": {"task": "meters.tasks.vee_failures_retry_all", "schedule": 900.0},
    # Class load profiles for E5 from the last four weeks' validated reads, before the sweep.
    "class-profiles": {"task": "meters.tasks.class_profiles_all", "schedule": 86400.0},
}
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# django-allauth: e-mail login, mandatory verification, TOTP two-factor, login rate limits.
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    # Linking a customer account (customers.views.accounts, issue 21): attempts per person and
    # per client address, failures per account (a bill code is 32 random bits).
    "customer_link": "10/h/user,30/h/ip",
    "customer_link_failed": "5/h/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "OpenMDMR"
MFA_TOTP_TOLERANCE = 1  # one 30 s step either way: phones' clocks drift; replays are still refused
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "OpenMDMR <noreply@openmdmr.invalid>")
# Staff must enrol TOTP before using the portal (portal.middleware.StaffTwoFactorMiddleware).
OPENMDMR_STAFF_REQUIRE_TOTP = env_bool("OPENMDMR_STAFF_REQUIRE_TOTP", default=True)

# Failed API-token attempts allowed per client address in 5 minutes before 429.
OPENMDMR_TOKEN_FAILURES_PER_WINDOW = int(os.environ.get("OPENMDMR_TOKEN_FAILURES_PER_WINDOW", 20))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ldc.authentication.LdcTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_RATE", "60/min"),
        "user": os.environ.get("API_USER_RATE", "6000/min"),
        "token_admin": "30/min",
    },
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    # No OPTIONS metadata (405): the OpenAPI schema describes the API, and DRF's metadata
    # needs a serializer class that single-operation viewsets do not have (it answered 500).
    "DEFAULT_METADATA_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OpenMDMR API",
    "DESCRIPTION": "Meter Data Management and Repository: registry, reads, billing quantities. "
    "Authenticate with `Authorization: Token <key>` (per-LDC API token) or a session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "connect.openapi.espi_paths",  # Connect My Data's ESPI resources (not DRF views)
    ],
}

# Green Button Connect My Data (connect/): django-oauth-toolkit as the authorisation server.
# RFC 6749 code grant only, PKCE (RFC 7636) S256 required of every client (RFC 9700 s. 2.1.1),
# short-lived codes and access tokens, refresh tokens rotated. The Application model is not swapped.
OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 120,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 400 * 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a replayed refresh token ends its family
    "OAUTH2_VALIDATOR_CLASS": "connect.oauth.ConnectValidator",
    "SCOPES_BACKEND_CLASS": "connect.scopes.EspiScopes",
    # http only to this machine (loopback, RFC 8252) and never in production (HTTPS=1): the
    # registration form refuses any other http URI.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if env_bool("HTTPS") else ["https", "http"],
    # RFC 9700 (OAuth 2.0 Security BCP): no implicit or password grant (sections 2.1.2, 2.4),
    # the RFC 9207 `iss` parameter in the authorisation response (section 4.4).
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # no "plain" PKCE
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # bearer tokens in the header only
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens kept hashed
    "REQUEST_APPROVAL_PROMPT": "force",  # the customer sees the consent page every time
}
# The toolkit's own models, named (not swapped: swapping must precede its first migration).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
# Notifications of new data to third parties (ESPI BatchList POST): seconds per attempt.
OPENMDMR_CONNECT_NOTIFY_TIMEOUT_S = int(os.environ.get("OPENMDMR_CONNECT_NOTIFY_TIMEOUT_S", 10))
# This portal's public address: notifications name resources under it (no request to ask).
OPENMDMR_PUBLIC_URL = os.environ.get("OPENMDMR_PUBLIC_URL", "http://127.0.0.1:8000")

LANGUAGE_CODE = "en-ca"
# One number and date style (portal/formats/en_CA/formats.py, over Django's en_CA).
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "America/Toronto"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "portal.staticfinders.PlotlyFinder",
]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = True

# Upload limits: read files stream to disk; forms stay small.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A worker holds a read file this long past its last committed batch; then another may resume.
OPENMDMR_INGEST_LEASE_S = int(os.environ.get("OPENMDMR_INGEST_LEASE_S", 600))
# Run VEE on the meter-days each ingestion batch touched (else only the daily sweep runs it).
OPENMDMR_VEE_AFTER_INGEST = env_bool("OPENMDMR_VEE_AFTER_INGEST", default=True)
# Intervals per ingestion batch: one transaction each, and the unit of resuming after a crash.
OPENMDMR_INGEST_BATCH_READS = int(os.environ.get("OPENMDMR_INGEST_BATCH_READS", 250_000))
# Batches of one file loaded at once on PostgreSQL (threads, one connection each).
OPENMDMR_INGEST_LOADERS = int(os.environ.get("OPENMDMR_INGEST_LOADERS", 2))
OPENMDMR_MAX_READ_FILE_BYTES = int(os.environ.get("OPENMDMR_MAX_READ_FILE_BYTES", 2 * 1024**3))

# Security. HTTPS=1 in production (behind a TLS-terminating proxy).
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
# The TLS proxies in front of the app (HTTPS=1: one). The client's address is the entry this
# many from the right of X-Forwarded-For (each proxy appends the address it saw; the ones
# before are whatever the client sent). allauth keys its login lockout by it
# (docs.allauth.org, "Rate Limits": else every client shares the proxy's address), and
# portal.middleware.client_address gives the same address to the audit trail and throttles.
ALLAUTH_TRUSTED_PROXY_COUNT = int(
    os.environ.get("ALLAUTH_TRUSTED_PROXY_COUNT", "1" if HTTPS else "0")
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
# Session lifetime (ASVS 3.3, portal.middleware.SessionIdleTimeoutMiddleware): signed out 12
# hours after signing in however active, and after this long without a request: staff and
# coordinators 30 minutes, customers 2 hours. The cookie itself ends with the browser.
SESSION_COOKIE_AGE = 12 * 3600
OPENMDMR_STAFF_IDLE_TIMEOUT_S = int(os.environ.get("OPENMDMR_STAFF_IDLE_TIMEOUT_S", 30 * 60))
OPENMDMR_CUSTOMER_IDLE_TIMEOUT_S = int(os.environ.get("OPENMDMR_CUSTOMER_IDLE_TIMEOUT_S", 7200))
# Browser features no page uses (portal.middleware.SecurityHeadersMiddleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

# Content Security Policy (django-csp): scripts only from our origin or carrying this
# response's nonce (`<script nonce="{{ request.csp_nonce }}">`); no inline handlers, no eval.
# <style> elements likewise need the nonce (base.html gives plotly.js and htmx theirs).
# style="" attributes are allowed: they cannot run code, progress bars set widths with them,
# and plotly.js and Bootstrap set them from script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],  # NONCE, not the text "'nonce'": that is no nonce at all
        "style-src": [SELF, NONCE],
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
