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
