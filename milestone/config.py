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
    cookie_key: str | None

    @property
    def embedded(self) -> bool:
        return not self.database_url


def _base_path(raw: str) -> str:
    raw = raw.strip()
    if not raw or raw == "/":
        return ""
    if not raw.startswith("/") or raw.endswith("/") or " " in raw:
        raise ConfigError(
            f"MILESTONE_BASE_PATH={raw!r}: must start with '/' and not end with '/', e.g. /milestone-app"
        )
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
        cookie_key=os.environ.get("MILESTONE_COOKIE_KEY") or None,
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
        "MILESTONE_LOCAL=1 makes one).")


def idle_minutes() -> int:
    raw = os.environ.get("MILESTONE_IDLE_MINUTES", "30")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"MILESTONE_IDLE_MINUTES must be a whole number of minutes, got {raw!r}") from None
    if not 1 <= value <= 24 * 60:
        raise ConfigError(f"MILESTONE_IDLE_MINUTES must be between 1 and 1440, got {value}")
    return value


def import_max_bytes() -> int:
    """Largest Xero CSV the importer reads (MILESTONE_IMPORT_MAX_MB, default 40 MB)."""
    raw = os.environ.get("MILESTONE_IMPORT_MAX_MB", "40")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"MILESTONE_IMPORT_MAX_MB must be a number of megabytes, got {raw!r}") from None
    if not 0 < value <= 200:
        raise ConfigError(f"MILESTONE_IMPORT_MAX_MB must be between 0 and 200, got {value}")
    return int(value * 1024 * 1024)


def n8n_webhook_url() -> str | None:
    """The n8n webhook that starts a Xero sync (N8N_SYNC_WEBHOOK_URL); None when unset."""
    url = os.environ.get("N8N_SYNC_WEBHOOK_URL", "").strip()
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"N8N_SYNC_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    return url or None
