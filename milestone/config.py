"""Settings read from the environment, validated once, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """An environment value a person set is wrong; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    base_path: str

    @property
    def embedded(self) -> bool:
        return not self.database_url


def _base_path(raw: str) -> str:
    raw = raw.strip()
    if not raw or raw == "/":
        return ""
    if not raw.startswith("/") or raw.endswith("/") or " " in raw:
        raise ConfigError(f"MILESTONE_BASE_PATH={raw!r}: must start with '/' and not end with '/', e.g. /milestone-app")
    return raw


def settings() -> Settings:
    url = os.environ.get("DATABASE_URL", "").strip() or None
    if url and not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]!r}:...")
    data_dir = Path(os.environ.get("MILESTONE_DATA_DIR", "") or PROJECT_ROOT / ".milestone").resolve()
    return Settings(
        database_url=url,
        data_dir=data_dir,
        base_path=_base_path(os.environ.get("MILESTONE_BASE_PATH", "")),
    )


_DEFAULT_KEYS = {"", "change-me", "changeme", "secret", "default", "milestone"}
MIN_COOKIE_KEY_LENGTH = 32


def local_mode() -> bool:
    """`make run` and the tests set MILESTONE_LOCAL=1; production never should."""
    return os.environ.get("MILESTONE_LOCAL", "") == "1"


def cookie_key() -> str:
    """The key that signs login cookies.

    From MILESTONE_COOKIE_KEY (or Streamlit's secrets as `cookie_key`). In local mode a random
    key is made once and kept in MILESTONE_DATA_DIR; outside local mode a missing, default or
    short key is refused, so a deployment never runs with a guessable key.
    """
    key = os.environ.get("MILESTONE_COOKIE_KEY", "")
    if not key:
        try:
            import streamlit as st

            key = str(st.secrets.get("cookie_key", ""))
        except Exception:  # noqa: BLE001 - no secrets file is normal
            key = ""
    if key and key.lower() not in _DEFAULT_KEYS and len(key) >= MIN_COOKIE_KEY_LENGTH:
        return key
    if local_mode():
        import secrets

        path = settings().data_dir / "cookie_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
    raise ConfigError(
        "MILESTONE_COOKIE_KEY is missing, a default value, or shorter than "
        f"{MIN_COOKIE_KEY_LENGTH} characters. Set it to a long random secret, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'` (for local use only, "
        "MILESTONE_LOCAL=1 makes one)."
    )


def _number(name: str, default: str, low: float, high: float, unit: str, kind: type = int) -> float:
    """An environment number in [low, high], or a ConfigError naming the variable and the rule."""
    raw = os.environ.get(name, "").strip() or default
    try:
        value = kind(raw)
    except ValueError:
        what = "a whole number of" if kind is int else "a number of"
        raise ConfigError(f"{name} must be {what} {unit}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g} {unit}, got {value:g}")
    return value


def idle_minutes() -> int:
    """Sign out after this many minutes without activity (MILESTONE_IDLE_MINUTES, default 30)."""
    return int(_number("MILESTONE_IDLE_MINUTES", "30", 1, 24 * 60, "minutes"))


IMPORT_MAX_MB_DEFAULT = 40


def import_max_mb() -> int:
    """Largest Xero CSV, in whole MB, that the uploader, the server, the proxy and the CLI accept
    (MILESTONE_IMPORT_MAX_MB, default 40)."""
    return int(_number("MILESTONE_IMPORT_MAX_MB", str(IMPORT_MAX_MB_DEFAULT), 1, 200, "megabytes"))


def import_max_bytes() -> int:
    return int(import_max_mb() * 1024 * 1024)


def base_currency() -> str:
    """The currency Milestone reports in (MILESTONE_BASE_CURRENCY, default GBP): three letters.
    Documents in another currency are stored converted to it (docs/design.md, "Currencies")."""
    raw = os.environ.get("MILESTONE_BASE_CURRENCY", "").strip().upper() or "GBP"
    if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise ConfigError(f"MILESTONE_BASE_CURRENCY must be a three-letter currency code such as GBP, got {raw!r}")
    return raw


def writes_per_minute() -> int:
    """Saves one user may make per minute (MILESTONE_WRITES_PER_MINUTE, default 10)."""
    return int(_number("MILESTONE_WRITES_PER_MINUTE", "10", 1, 1_000_000, "saves a minute"))


def sentry_dsn() -> str | None:
    """Where errors go besides the JSON log (SENTRY_DSN); None when unset."""
    dsn = os.environ.get("SENTRY_DSN", "").strip()
    if dsn and not dsn.startswith(("http://", "https://")):
        raise ConfigError(f"SENTRY_DSN must be the https:// DSN Sentry gives, got {dsn[:12]!r}...")
    return dsn or None


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level() -> str:
    """How much the CLI and server log (MILESTONE_LOG_LEVEL, default WARNING)."""
    level = os.environ.get("MILESTONE_LOG_LEVEL", "").strip().upper() or "WARNING"
    if level not in _LOG_LEVELS:
        raise ConfigError(f"MILESTONE_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {level!r}")
    return level


def n8n_webhook_url() -> str | None:
    """The n8n webhook that starts a Xero sync (N8N_SYNC_WEBHOOK_URL); None when unset."""
    url = os.environ.get("N8N_SYNC_WEBHOOK_URL", "").strip()
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"N8N_SYNC_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    return url or None


APP_LOGIN = "milestone_web"  # the app's database login (sql/011_security.sql creates it)
MIN_METRICS_TOKEN_LENGTH = 24


def app_database_url() -> str | None:
    """MILESTONE_APP_DATABASE_URL: the app's own login, when it is not derived (see db.app_url)."""
    url = os.environ.get("MILESTONE_APP_DATABASE_URL", "").strip() or None
    if url and not url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigError(f"MILESTONE_APP_DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]!r}:...")
    return url


def app_db_password() -> str | None:
    """MILESTONE_APP_DB_PASSWORD: the password of the milestone_web login (derived URL; `migrate`
    sets it on the server)."""
    return os.environ.get("MILESTONE_APP_DB_PASSWORD", "") or None


def check_app_login_settings() -> None:
    """Outside local mode, an external database needs the app login's credentials: the owner's
    URL (DATABASE_URL) is for migrations only."""
    app_database_url()
    if settings().database_url and not local_mode() and not (app_database_url() or app_db_password()):
        raise ConfigError(
            "DATABASE_URL is the owner's login (migrations). Set MILESTONE_APP_DB_PASSWORD (the app then "
            f"connects as {APP_LOGIN} to the same server) or MILESTONE_APP_DATABASE_URL; see docs/operations.md."
        )


def session_hours() -> int:
    """A session ends this many hours after sign-in, however active (MILESTONE_SESSION_HOURS, default 12)."""
    return int(_number("MILESTONE_SESSION_HOURS", "12", 1, 24 * 30, "hours"))


def metrics_token() -> str | None:
    """Bearer token for /metrics and /_stcore/metrics (MILESTONE_METRICS_TOKEN). Unset: only
    loopback clients without a proxy in between may read them."""
    token = os.environ.get("MILESTONE_METRICS_TOKEN", "").strip()
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise ConfigError(f"MILESTONE_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters")
    return token or None


def check_all() -> None:
    """Read and validate every setting once (serve calls this): a wrong value stops the server
    with a message naming the variable, instead of failing later on a page."""
    settings()
    cookie_key()
    idle_minutes()
    import_max_bytes()
    base_currency()
    writes_per_minute()
    sentry_dsn()
    log_level()
    n8n_webhook_url()
    check_app_login_settings()
    session_hours()
    metrics_token()
