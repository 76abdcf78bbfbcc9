"""Casedesk settings: one file, driven by environment variables (12-factor).

Without any variable set, Casedesk runs on the embedded default: SQLite under
``var/``, Celery tasks executed eagerly in process, email printed to the console,
``DEBUG`` on. Production differences are environment values, never forks of
this file. With ``DJANGO_DEBUG=false`` a missing secret stops start-up with a
message naming the variable.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def required(name: str) -> str:
    """Return an env var that production cannot run without, or stop start-up."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DJANGO_DEBUG is false (see README, Configuration)."
        )
    return value


# --- Core -------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-embedded-default-key-for-dev-only")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = required("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = [h.strip() for h in required("DJANGO_ALLOWED_HOSTS").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL used in emails and links that leave the site.
SITE_URL = env.str("CASEDESK_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# CI sets this so that a missing PostgreSQL or Redis is an error, never a silent fallback.
REQUIRE_SERVICES = env.bool("CASEDESK_REQUIRE_SERVICES", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "axes",
    "lib",
    "accounts",
    "access",
    "cases",
    "portal",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lib.middleware.UserTimezoneMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Idle/absolute timeouts, IP lock, login IP ranges and hours, forced MFA enrolment.
    "access.middleware.SessionPolicyMiddleware",
    # Last: turns a sign-in refused for lock-out into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "portal.context.branding",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# Embedded default: a SQLite file under var/. DATABASE_URL switches to PostgreSQL.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'casedesk.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if REQUIRE_SERVICES and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("CASEDESK_REQUIRE_SERVICES is set: DATABASE_URL must be PostgreSQL.")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache -------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REQUIRE_SERVICES and not REDIS_URL:
    raise ImproperlyConfigured("CASEDESK_REQUIRE_SERVICES is set: REDIS_URL must be set.")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="casedesk"),
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    # Embedded default: no broker, tasks run in process right where they are enqueued.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# All periodic jobs live here (STYLE.md); later apps add their entries.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}

# --- Auth: users, allauth -------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Lock-out first, so a locked account is refused before its password is tried.
    "access.backends.LockoutBackend",
    # Django's and allauth's backends, refusing sign-ins outside login IP ranges/hours.
    "access.backends.PolicyModelBackend",
    "access.backends.PolicyAllauthBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/desk/"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PREVENT_ENUMERATION = True

# --- Email --------------------------------------------------------------------
# Embedded default prints mail to the console; EMAIL_URL (smtp://host:port) sends it.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Casedesk <support@casedesk.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Notifications and email intake -----------------------------------------------
# Outbound: the outbox retries transient SMTP failures with exponential backoff for this long.
OUTBOX_RETRY_WINDOW_SECONDS = env.int("CASEDESK_OUTBOX_RETRY_WINDOW", default=24 * 60 * 60)
# First retry after this many seconds, doubling each time (capped at an hour).
OUTBOX_RETRY_BASE_SECONDS = env.float("CASEDESK_OUTBOX_RETRY_BASE", default=30.0)
# Rows queued or sending for longer than this are re-enqueued by the sweep (a lost enqueue,
# a worker killed mid-send).
OUTBOX_STUCK_AFTER_SECONDS = env.int("CASEDESK_OUTBOX_STUCK_AFTER", default=10 * 60)
OUTBOX_SMTP_TIMEOUT = env.int("CASEDESK_OUTBOX_SMTP_TIMEOUT", default=30)
# Replies come back to <REPLY_LOCAL_PART>+c<number>.<signature>@<REPLY_DOMAIN>.
REPLY_DOMAIN = env.str("CASEDESK_REPLY_DOMAIN", default="casedesk.localhost")
REPLY_LOCAL_PART = env.str("CASEDESK_REPLY_LOCAL_PART", default="support")
# Inbound webhook: HMAC-SHA256 over "<timestamp>." + body; requests older than the window
# are refused so a captured request cannot be replayed later.
INBOUND_EMAIL_SECRET = env.str("CASEDESK_INBOUND_EMAIL_SECRET", default="")
INBOUND_EMAIL_MAX_AGE_SECONDS = env.int("CASEDESK_INBOUND_EMAIL_MAX_AGE", default=300)
# A message larger than this is recorded as failed; the raw copy kept for audit is capped.
INBOUND_MESSAGE_MAX_BYTES = env.int("CASEDESK_INBOUND_MESSAGE_MAX_BYTES", default=40 * 1024 * 1024)
INBOUND_RAW_KEEP_BYTES = env.int("CASEDESK_INBOUND_RAW_KEEP_BYTES", default=10 * 1024 * 1024)
# Per-sender cap on messages accepted per hour (mail loops, floods).
INBOUND_SENDER_LIMIT_PER_HOUR = env.int("CASEDESK_INBOUND_SENDER_LIMIT", default=60)
# IMAP mailboxes are configured in the admin; their passwords may come from the env var a
# mailbox names. A private CA bundle (tests, internal servers) may be given here.
IMAP_CA_FILE = env.str("CASEDESK_IMAP_CA_FILE", default="")
IMAP_POLL_SECONDS = env.int("CASEDESK_IMAP_POLL_SECONDS", default=60)
IMAP_BATCH_SIZE = env.int("CASEDESK_IMAP_BATCH_SIZE", default=200)
# cases.intake is a package inside the cases app; autodiscovery only finds cases.tasks.
CELERY_IMPORTS = ("cases.intake.tasks",)
CELERY_BEAT_SCHEDULE["intake-imap-poll"] = {
    "task": "cases.intake.tasks.imap_poll_all_task",
    "schedule": float(IMAP_POLL_SECONDS),
}
CELERY_BEAT_SCHEDULE["notifications-outbox-sweep"] = {
    "task": "notifications.tasks.outbox_sweep_task",
    "schedule": 60.0,
}

# --- Files ----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Largest attachment accepted, in bytes (default 25 MB).
ATTACHMENT_MAX_BYTES = env.int("CASEDESK_ATTACHMENT_MAX_BYTES", default=25 * 1024 * 1024)
# Requests may carry a few attachments at the limit; Django streams bigger bodies to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Locale ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("CASEDESK_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------
# How many reverse proxies in front of us append to X-Forwarded-For. 0 means the client
# address is REMOTE_ADDR and the header is ignored, so it can never be forged.
TRUSTED_PROXY_COUNT = env.int("CASEDESK_TRUSTED_PROXY_COUNT", default=0)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if TRUSTED_PROXY_COUNT:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ----------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Casedesk -----------------------------------------------------------------------
CASES_PAGE_SIZE = 50

# --- Customer portal -------------------------------------------------------------------
# Defaults for what an admin may change in Portal settings (admin) without a deploy.
PORTAL_NAME = env.str("CASEDESK_PORTAL_NAME", default="Support")
PORTAL_ACCENT_COLOR = env.str("CASEDESK_PORTAL_ACCENT_COLOR", default="#1d4ed8")
PORTAL_AGENT_NAMES = env.str("CASEDESK_PORTAL_AGENT_NAMES", default="full")  # or "first"
# A resolved or closed case may be reopened by its customer for this many days; after
# that a reply opens a new case linked to the old one (parent).
PORTAL_REOPEN_GRACE_DAYS = env.int("CASEDESK_PORTAL_REOPEN_GRACE_DAYS", default=14)
PORTAL_INVITATION_TTL_HOURS = env.int("CASEDESK_PORTAL_INVITATION_TTL_HOURS", default=72)
CELERY_BEAT_SCHEDULE["portal-invitations-expire"] = {
    "task": "portal.tasks.portal_invitations_expire_task",
    "schedule": 60.0 * 60,
}
PORTAL_PAGE_SIZE = 20
# Uploads from customers: at most this many files per form, of these sniffed types.
PORTAL_MAX_FILES = env.int("CASEDESK_PORTAL_MAX_FILES", default=5)
PORTAL_UPLOAD_TYPES = env.list(
    "CASEDESK_PORTAL_UPLOAD_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "application/zip",
    ],
)

# --- Access control -------------------------------------------------------------------
# Profiles, permission sets and field security live in the database (access/); these
# are the sign-in hardening knobs around them. See README, "Security model".
# Lock-out after this many failed sign-ins for one account from one address.
AXES_FAILURE_LIMIT = env.int("CASEDESK_LOGIN_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_COOLOFF_TIME = env.float("CASEDESK_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "access.backends.axes_username"
# The same client address everywhere: REMOTE_ADDR unless TRUSTED_PROXY_COUNT says otherwise.
AXES_CLIENT_IP_CALLABLE = "lib.http.client_ip"
AXES_LOCKOUT_TEMPLATE = "access/locked_out.html"
AXES_VERBOSE = False
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # one INFO line per sign-in is noise
# allauth MFA: authenticator apps (TOTP) with recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Casedesk"
# Password reset and failed sign-ins are rate limited per address and per account; with
# ACCOUNT_PREVENT_ENUMERATION the answers never tell whether an email has an account.
ACCOUNT_RATE_LIMITS = {
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    # Failed sign-ins per account are axes' job (per account and address): a limit per
    # account alone would let anyone lock a colleague out from anywhere.
    "login_failed": "30/m/ip",
}
