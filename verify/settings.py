"""Django settings for Verify Desk, read from the environment with safe local defaults."""

import importlib.util
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str = "False") -> bool:
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.getenv(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "True")
LOCAL_DATA_DIR = Path(os.getenv("VERIFY_DATA_DIR", BASE_DIR / "var"))
LOCAL_DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "local-development-only-not-secret"  # noqa: S105 (DEBUG only)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.getenv("SITE_URL", "http://localhost:8000").rstrip("/")
# Who publishes verdicts: the author of the ClaimReview JSON-LD and of the public verdict pages.
ORGANISATION_NAME = os.getenv("ORGANISATION_NAME", "Verify Desk")
ORGANISATION_URL = os.getenv("ORGANISATION_URL", SITE_URL)
# Map tiles for GPS readings. Empty (the default) asks no tile server for the places under investigation:
# the case page shows coordinates, distances and a link the user chooses to open.
MAP_TILE_URL = os.getenv("MAP_TILE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "verify",
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
]

ROOT_URLCONF = "verify.urls"
WSGI_APPLICATION = "verify.wsgi.application"

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
            ],
            # The `bdi` and `isolate` filters: user text on every page is shown isolated.
            # `moment`, `duration`, `size` and `person`: one style for each on every page (verify.desk.formats).
            "builtins": ["verify.templatetags.bidi", "verify.templatetags.desk"],
        },
    },
]

# Database: SQLite on local disk unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", "").strip() or f"sqlite:///{LOCAL_DATA_DIR / 'desk.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make concurrent writers wait for the lock instead of
    # failing half-way; the test database is a real file so threads share it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # One file per test run, so that parallel runs do not share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"verify-desk-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The zone the desk shows times in (stored times are UTC whatever it is).
TIME_ZONE = os.getenv("DESK_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Leaflet's own files, as packaged by django-leaflet (whose Django app needs GDAL,
# so only its static folder is used, located without importing the package).
_leaflet_spec = importlib.util.find_spec("leaflet")
STATICFILES_DIRS = (
    [("leaflet", Path(_leaflet_spec.origin).parent / "static" / "leaflet")]
    if _leaflet_spec and _leaflet_spec.origin
    else []
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Media is evidence: never served publicly, only through a view that checks permission.
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", LOCAL_DATA_DIR / "media"))
MEDIA_URL = "/media/"

LOGIN_URL = "admin:login"

EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "verify-desk@localhost")
# The mail server, for EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL")
# For EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend: the folder e-mails are written to.
EMAIL_FILE_PATH = os.getenv("EMAIL_FILE_PATH", str(LOCAL_DATA_DIR / "mail"))
# Seconds an SMTP connection may wait on the mail server (Django's default is to wait forever).
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)

# Celery. With no broker configured the desk uses kombu's filesystem transport,
# so a real worker runs without a Redis server.
REDIS_URL = os.getenv("REDIS_URL", "")
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = os.getenv("CELERY_RESULT_BACKEND", REDIS_URL or None)
# Extractions go to the default queue, slower screening readings (forensics) to their own; workers consume
# both (`-Q celery,screening`) and, on Redis, take the default queue's tasks first.
CELERY_TASK_DEFAULT_QUEUE = "celery"
EXTRACTION_SCREENING_QUEUE = os.getenv("EXTRACTION_SCREENING_QUEUE", "screening")
CELERY_BROKER_TRANSPORT_OPTIONS = {"queue_order_strategy": "priority"}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = LOCAL_DATA_DIR / "celery-queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(LOCAL_DATA_DIR / "celery-processed"),
        "store_processed": False,
        # kombu's default is ./control, wherever the process was started.
        "control_folder": str(LOCAL_DATA_DIR / "celery-control"),
        # kombu polls the folder, sleeping polling_interval (1 s by default) whenever it
        # finds it empty; with prefetch 1 and acks_late each task waited out that sleep.
        # 0.05 s costs a folder listing 20 times a second (bench/embedded_broker.py).
        "polling_interval": float(os.getenv("CELERY_BROKER_POLLING_INTERVAL", "0.05")),
        # As on Redis: every file's first readings before any screening (workers/filesystem_broker.py).
        "queue_order_strategy": "priority",
    }
    _queue_dir.mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_ACKS_LATE = True
# Keep a worker's database connection across tasks (Celery's Django fixup otherwise
# closes it around every task); it is still recycled after this many tasks.
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 200)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 150)
CELERY_BEAT_SCHEDULE = {
    "report-overdue-cases": {"task": "workers.tasks.report_overdue_cases", "schedule": 15 * 60},
}

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "True")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
    SILENCED_SYSTEM_CHECKS = [] if envbool("SECURE_HSTS_PRELOAD") else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    # WeasyPrint and fontTools narrate every rendering step at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("weasyprint", "fontTools")},
}

# Intake limits: shown to users in the words of these numbers.
MAX_UPLOAD_BYTES = envint("MAX_UPLOAD_BYTES", 4 * 1024**3)
MAX_UPLOAD_FILES = envint("MAX_UPLOAD_FILES", 50)
URL_DOWNLOAD_TIMEOUT = envint("URL_DOWNLOAD_TIMEOUT", 30)
# Uploads bigger than this go to a temporary file, never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2
DATA_UPLOAD_MAX_NUMBER_FILES = MAX_UPLOAD_FILES * 10  # headroom, so the form can say how many were too many
# A task delivered this many times without finishing is recorded as failed, not retried.
EXTRACTION_MAX_ATTEMPTS = envint("EXTRACTION_MAX_ATTEMPTS", 3)
# The sweep runs every EXTRACTION_SWEEP_SECONDS and re-sends a reading whose task was never sent
# (broker down at intake) or was sent EXTRACTION_RESEND_SECONDS ago and not started (a lost message):
# together at most two minutes before a lost reading is on its way again.
EXTRACTION_SWEEP_SECONDS = envint("EXTRACTION_SWEEP_SECONDS", 60)
EXTRACTION_RESEND_SECONDS = envint("EXTRACTION_RESEND_SECONDS", 60)
CELERY_BEAT_SCHEDULE["requeue-stalled-extractions"] = {
    "task": "workers.tasks.requeue_stalled_extractions",
    "schedule": EXTRACTION_SWEEP_SECONDS,
}

# Near-duplicate search (verify/similarity.py). Hamming distances between 64-bit perceptual
# hashes, chosen from the curve that bench/similarity_curve.py measures (README there): at most
# SIMILARITY_MAX_DISTANCE is "seen before"; at most SIMILARITY_STRICT_DISTANCE is a high-severity
# match; a video matches when at least SIMILARITY_MIN_FRAMES of its keyframes do (or all it has).
SIMILARITY_MAX_DISTANCE = envint("SIMILARITY_MAX_DISTANCE", 8)
SIMILARITY_STRICT_DISTANCE = envint("SIMILARITY_STRICT_DISTANCE", 4)
SIMILARITY_MIN_FRAMES = envint("SIMILARITY_MIN_FRAMES", 2)

# Signing in and security headers (README "Signing in").
# Failed sign-ins are counted per account and per address by django-axes; either limit locks
# sign-ins for SIGNIN_LOCKOUT_MINUTES after the last failure (0: until an administrator unlocks).
# The address limit is higher because a newsroom often signs in from behind one shared address.
INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp", "csp", "verify.signin"]
MIDDLEWARE += [
    "verify.signin.headers.DeskCSPMiddleware",
    "verify.signin.headers.PermissionsPolicyMiddleware",
    "django_otp.middleware.OTPMiddleware",  # after AuthenticationMiddleware
    "verify.signin.middleware.EditorsEnrolMiddleware",  # after OTPMiddleware
    "axes.middleware.AxesMiddleware",  # last, so that its lockout page gets every header above
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in before any password check
    "django.contrib.auth.backends.ModelBackend",
]
SIGNIN_FAILURE_LIMIT = envint("SIGNIN_FAILURE_LIMIT", 5)
SIGNIN_ADDRESS_FAILURE_LIMIT = envint("SIGNIN_ADDRESS_FAILURE_LIMIT", 20)
SIGNIN_LOCKOUT_MINUTES = envint("SIGNIN_LOCKOUT_MINUTES", 15)
AXES_FAILURE_LIMIT = SIGNIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "verify.signin.throttle.SignInHandler"
AXES_COOLOFF_TIME = timedelta(minutes=SIGNIN_LOCKOUT_MINUTES) if SIGNIN_LOCKOUT_MINUTES else None
AXES_LOCKOUT_CALLABLE = "verify.signin.throttle.lockout_response"
# A success must not wipe the address's count: one valid account would reset a spray from that address.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False  # no banner on every manage.py command
# Behind SIGNIN_PROXY_COUNT reverse proxies, the client's address is read from X-Forwarded-For.
SIGNIN_PROXY_COUNT = envint("SIGNIN_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "verify.signin.throttle.client_address"
OTP_TOTP_ISSUER = "Verify Desk"
# Editors must enrol a TOTP device, and sign in with it, before anything else.
OTP_REQUIRED_FOR_EDITORS = envbool("OTP_REQUIRED_FOR_EDITORS")
# The policy for desk pages; verify.signin.headers adds the map tile host to img-src when tiles are
# configured, and the public verdict page has a stricter one of its own.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # No 'unsafe-inline': the one inline style Django's admin writes (change_list.html, for a list
        # without actions) is allowed by its hash; tests/signin/test_headers.py checks it still matches.
        "style-src": ["'self'", "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='"],
        # data: for Leaflet's blank placeholder tile; images cannot run code.
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb", "screen-wake-lock", "xr-spatial-tracking",
    )
}  # fmt: skip
# Outbound fetches (verify/outbound/). The desk never fetches from addresses inside this network or on
# its own machine; OUTBOUND_ALLOW lists the exceptions (host names, host:port, addresses or CIDR
# networks, comma-separated), e.g. an intranet source. OUTBOUND_PROXY_URL sends every fetch through a
# proxy (which must itself refuse internal addresses). A link's whole download, redirects included,
# ends at URL_DOWNLOAD_DEADLINE seconds; URL_DOWNLOAD_TIMEOUT above bounds each wait for data.
OUTBOUND_ALLOW = envlist("OUTBOUND_ALLOW")
OUTBOUND_PROXY_URL = os.getenv("OUTBOUND_PROXY_URL", "").strip()
URL_DOWNLOAD_DEADLINE = envint("URL_DOWNLOAD_DEADLINE", 600)
# At least every minute, so that a link download whose message or worker was lost is re-sent within about two.
CELERY_BEAT_SCHEDULE["requeue-stalled-extractions"]["schedule"] = min(EXTRACTION_SWEEP_SECONDS, 60)
# Fixity (verify/record/fixity.py): every FIXITY_SLICE_MINUTES beat re-hashes the files checked
# longest ago and walks the next cases' event chains, in slices sized so that the whole archive
# is covered once every FIXITY_PERIOD_HOURS (a week by default). `manage.py check_integrity` checks all of it at once.
FIXITY_PERIOD_HOURS = envint("FIXITY_PERIOD_HOURS", 7 * 24)
FIXITY_SLICE_MINUTES = envint("FIXITY_SLICE_MINUTES", 5)
# Post capture (verify/capture/): at most CAPTURE_BROWSERS Chromium instances per worker host, a page's
# load stopped at CAPTURE_PAGE_SECONDS, and the captured sightings of open cases captured again every
# CAPTURE_WATCH_HOURS (0: never on a schedule).
CAPTURE_BROWSERS = envint("CAPTURE_BROWSERS", 2)
CAPTURE_PAGE_SECONDS = envint("CAPTURE_PAGE_SECONDS", 60)
CAPTURE_WATCH_HOURS = envint("CAPTURE_WATCH_HOURS", 24)
if CAPTURE_WATCH_HOURS:
    CELERY_BEAT_SCHEDULE["recapture-watched-sightings"] = {
        "task": "workers.tasks.recapture_watched_sightings",
        "schedule": 3600,
    }
CELERY_BEAT_SCHEDULE["check-fixity-slice"] = {
    "task": "workers.tasks.check_fixity_slice",
    "schedule": FIXITY_SLICE_MINUTES * 60,
}

# Request bodies (verify/upload_limits.py). The largest body one request may send, all its files
# together: one file at MAX_UPLOAD_BYTES plus room for the form around it; a larger declared body
# is refused from its headers, before it is read or spooled. Uploads spool to FILE_UPLOAD_TEMP_DIR
# (the system's temporary folder when unset) while they arrive.
MAX_REQUEST_BYTES = envint("MAX_REQUEST_BYTES", MAX_UPLOAD_BYTES + 4 * 1024**2)
FILE_UPLOAD_TEMP_DIR = os.getenv("FILE_UPLOAD_TEMP_DIR") or None
# Last: it asks who is sending (AuthenticationMiddleware), and its refusals get every header the
# middleware above adds. Its request phase still runs before CsrfViewMiddleware.process_view, the
# first thing that reads (and spools) a posted body.
MIDDLEWARE += ["verify.upload_limits.RequestBodyLimitMiddleware"]

# Trusted time (verify/record/timestamps.py): RFC 3161 tokens from the time-stamping authority at TSA_URL
# for each original's SHA-256 after intake, and once a day for every case's chain head. TSA_CA_FILE is a
# PEM file of the root CA certificate (and any intermediates) its tokens must chain to. With no
# authority, or one that cannot be reached, originals stay "not stamped" with the reason and beat tries
# again (every TSA_SWEEP_SECONDS, backing off to 6 hours) once it is configured or back.
TSA_URL = os.getenv("TSA_URL", "").strip()
TSA_CA_FILE = os.getenv("TSA_CA_FILE", "").strip()
TSA_TIMEOUT = envint("TSA_TIMEOUT", 30)
TSA_SWEEP_SECONDS = envint("TSA_SWEEP_SECONDS", 5 * 60)
CELERY_BEAT_SCHEDULE["retry-timestamps"] = {"task": "workers.tasks.retry_timestamps", "schedule": TSA_SWEEP_SECONDS}
CELERY_BEAT_SCHEDULE["stamp-chain-heads"] = {"task": "workers.tasks.stamp_chain_heads", "schedule": 24 * 3600}

# Queues and notices (verify/notices/, verify/desk/home.py). "Take next" gives a reviewer cases until they
# hold TAKE_NEXT_CAP open ones (0: no cap); the desk and editors can still assign more. Notices are
# e-mailed through EMAIL_BACKEND with links on SITE_URL, which `make run` sets to the address it serves.
TAKE_NEXT_CAP = envint("TAKE_NEXT_CAP", 5)
# A worker sends the e-mails (verify/notices/mailing.py). One that fails is tried again after
# NOTICE_MAIL_RETRY_SECONDS, doubling each time up to an hour, NOTICE_MAIL_ATTEMPTS times in all;
# the sweep also sends what a broker that was down never delivered.
NOTICE_MAIL_ATTEMPTS = envint("NOTICE_MAIL_ATTEMPTS", 8)
NOTICE_MAIL_RETRY_SECONDS = envint("NOTICE_MAIL_RETRY_SECONDS", 60)
CELERY_BEAT_SCHEDULE["send-notice-mail"] = {"task": "workers.tasks.send_notice_mail", "schedule": 60}

# Near-duplicate matching of photos (verify/matching/). Region hashes within MATCH_ACCEPT_DISTANCE bits
# match on the hash alone; of the items within MATCH_CANDIDATE_DISTANCE, the MATCH_MAX_CANDIDATES
# closest match when at least MATCH_MIN_INLIERS keypoints agree. From bench/matching_curve.py's curve.
MATCH_ACCEPT_DISTANCE = envint("MATCH_ACCEPT_DISTANCE", 3)
MATCH_CANDIDATE_DISTANCE = envint("MATCH_CANDIDATE_DISTANCE", 8)
MATCH_MAX_CANDIDATES = envint("MATCH_MAX_CANDIDATES", 8)
MATCH_MIN_INLIERS = envint("MATCH_MIN_INLIERS", 35)

# Embedded broker: messages written and taken atomically.
# kombu's filesystem transport lets a worker take a message file before it is written, and
# the worker then stops consuming; workers/filesystem_broker.py renames whole files instead.
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "workers.filesystem_broker:Transport"

# Exports of a set of cases (verify/exports/). Up to EXPORT_STREAM_MAX_CASES cases stream straight from the
# case list, well inside a proxy's timeout; a larger set becomes a background job that a worker writes to
# storage, with its progress on a page and a download link once done. EXPORT_TIME_LIMIT (seconds) stops a
# job that runs away (figures: bench/csv_export.py).
EXPORT_STREAM_MAX_CASES = envint("EXPORT_STREAM_MAX_CASES", 2000)
EXPORT_TIME_LIMIT = envint("EXPORT_TIME_LIMIT", 3600)

# Web under load (bench/web_load.py): each gunicorn thread keeps its database connection for
# DB_CONN_MAX_AGE seconds (above); a connection the server dropped meanwhile is noticed and
# replaced at the start of a request instead of failing it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = DATABASES["default"]["CONN_MAX_AGE"] != 0

# The case page draws its timeline and places with the page up to this many files; a bigger case's are
# fetched when someone opens them, so its page stays quick to draw and to send (bench/case_page.py).
CASE_STORY_INLINE_FILES = envint("CASE_STORY_INLINE_FILES", 100)
