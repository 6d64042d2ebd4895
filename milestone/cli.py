"""`python -m milestone ...`: the command line mirror of the app (see README 'Commands')."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from milestone import config, db
from milestone.config import ConfigError
from milestone.errors import DatabaseUnavailable, MilestoneError, RowProblems

if TYPE_CHECKING:
    from milestone.store.users import User


def _positive_scale(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scale must be a number such as 0.01, 1 or 10, got {raw!r}") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"--scale must be greater than 0 and at most 100, got {raw}")
    return value


def cmd_db(args: argparse.Namespace) -> int:
    if not db.settings().embedded:
        if args.action == "url":
            print(db.database_url())
            return 0
        print("DATABASE_URL is set: Milestone uses that server, not the embedded one.", file=sys.stderr)
        return 2
    server = db.embedded_server()
    if args.action == "start":
        print(server.start())
    elif args.action == "stop":
        print(server.stop())
    else:
        print(server.url())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from milestone.migrate import migrate

    db.ensure_database()
    applied = migrate(db.owner_engine())
    print(f"Applied {', '.join(applied)}." if applied else "Database schema is up to date.")
    password = config.app_db_password()
    if password and not config.app_database_url():  # rotating the app's password: docs/operations.md
        db.set_app_login_password(db.owner_engine(), password)
        print(f"Set the password of the {config.APP_LOGIN} login from MILESTONE_APP_DB_PASSWORD.")
    return 0


def _print_passwords(created: dict[str, str]) -> None:
    if created:
        print("\nDemo users created. Their passwords are shown this once; write them down:")
        for user, password in created.items():
            print(f"  {user:<8} {password}")
        print()


def cmd_seed(args: argparse.Namespace) -> int:
    from milestone import seed
    from milestone.migrate import migrate

    db.ensure_database()
    migrate(db.owner_engine())
    _print_passwords(seed.ensure_demo_users(db.owner_engine()))
    from milestone.store import operations

    with db.snapshot(db.owner_engine()) as conn:
        has_data = operations.counts(conn)["projects"] > 0
    if has_data:
        if args.if_empty:
            print("Database already has data; not seeding.")
            return 0
        print("The database already has projects; seed only fills an empty database.", file=sys.stderr)
        return 2
    counts = seed.load(db.owner_engine(), args.scale, args.seed, progress=not args.quiet)
    print("Loaded " + ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items()) + ".")
    return 0


# The operator at the command line has database access already; they act as an admin
# named "cli" (recorded in the audit), still bound by the last-admin rule.
def _cli_admin() -> User:
    from milestone.store.users import User

    return User(
        id="",
        username="cli",
        display_name="Command line",
        email=None,
        role="admin",
        disabled=False,
        must_change_password=False,
    )


def cmd_users(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from milestone import auth
    from milestone.services import users
    from milestone.validation import USER_LABELS, NewUser, describe_errors

    if args.action == "list":
        for r in users.list_users().itertuples():
            state = "disabled" if r.disabled else ("must change password" if r.must_change_password else "active")
            print(f"{r.username:<20} {r.role:<8} {state}")
        return 0
    if args.action == "add":
        try:
            new = NewUser(
                username=args.username, display_name=args.name or args.username, email=args.email, role=args.role
            )
        except ValidationError as exc:
            print("\n".join(describe_errors(exc, USER_LABELS)), file=sys.stderr)
            return 2
        password = args.password or auth.generate_password()
        problems = auth.password_problems(password, new.username)
        if problems:
            print("Password " + "; ".join(problems) + ".", file=sys.stderr)
            return 2
        users.create_user(
            new.username,
            new.display_name,
            new.role,
            auth.hash_password(password),
            actor="cli",
            email=new.email,
            must_change_password=not args.password,
        )
        print(
            f"Created {new.username} ({new.role}). One-time password: {password}"
            if not args.password
            else f"Created {new.username} ({new.role})."
        )
        return 0
    if users.get_user(args.username) is None:
        print(f"There is no user called {args.username}.", file=sys.stderr)
        return 2
    try:
        if args.action == "disable":
            users.update_user(_cli_admin(), args.username, disabled=True)
            print(f"Disabled {args.username} and ended their sessions.")
        elif args.action == "enable":
            users.update_user(_cli_admin(), args.username, disabled=False)
            print(f"Enabled {args.username}.")
        elif args.action == "role":
            users.update_user(_cli_admin(), args.username, role=args.role)
            print(f"{args.username} is now {args.role}.")
        elif args.action == "reset":
            password = auth.generate_password()
            users.set_password(_cli_admin(), args.username, auth.hash_password(password), must_change=True)
            print(f"Reset {args.username}. One-time password: {password} (they choose a new one at sign-in).")
    except MilestoneError as exc:  # the last admin, or a user removed meanwhile
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from milestone import server

    config.check_all()  # a missing cookie key or a typo in any setting stops here, not on a page
    db.ensure_database()
    try:
        problems = db.check_app_login()
    except DatabaseUnavailable as exc:
        problems = [f"its login could not be checked ({str(exc).splitlines()[0]})"]
    except Exception as exc:  # noqa: BLE001 - e.g. the login does not exist or its password is wrong
        problems = [f"its login could not be checked ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"]
    if problems and config.local_mode():
        logging.getLogger(__name__).warning("serving although %s (local mode)", "; ".join(problems))
    elif problems:
        print(
            "Refusing to serve: " + "; ".join(problems) + ". The app must log in as a least-privilege "
            "login (docs/operations.md, 'Database logins').",
            file=sys.stderr,
        )
        return 2
    return server.serve(port=args.port, address=args.address)


def cmd_health(args: argparse.Namespace) -> int:
    """Ask a running server for /health; exit 0 only when it answers 200."""
    import urllib.error
    import urllib.request

    url = args.url or f"http://127.0.0.1:8501{db.settings().base_path.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"Unhealthy: {url} did not answer ({exc}).", file=sys.stderr)
    return 1


def cmd_backup(args: argparse.Namespace) -> int:
    from milestone.services import backup

    db.ensure_database()
    directory = Path(args.dir) if args.dir else db.settings().data_dir / "backups"
    try:
        path = backup.backup(directory, keep_daily=args.keep_daily, keep_weekly=args.keep_weekly)
    except MilestoneError as exc:  # pg_dump stopped, the database went, the disk is full: no file left
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"Backup written: {path} ({path.stat().st_size:,} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from milestone.services import backup

    db.ensure_database()
    counts = backup.restore(Path(args.file), force=args.force)
    print(f"Restored {args.file}: {len(counts)} tables, {sum(counts.values()):,} rows, row counts verified.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export a table with filters to a file, as the Export page does (recorded in export_log as 'cli')."""
    from pydantic import ValidationError

    from milestone.services import exports
    from milestone.validation import Filters, describe_errors

    try:
        f = Filters(date_from=args.date_from, date_to=args.date_to, clients=tuple(args.client or ()))
    except ValidationError as exc:
        print("\n".join(describe_errors(exc, {"date_from": "--from", "date_to": "--to"})), file=sys.stderr)
        return 2
    out = Path(args.out or exports.file_name(args.table, f, args.format))
    # Written beside the target and renamed only when complete: an interrupted export (Ctrl-C,
    # a killed process, the database gone) never leaves a plausible but partial file.
    part = out.with_name(f".{out.name}.part")
    try:
        with part.open("wb") as fh:
            rows = exports.export(
                args.table, f, args.format, fh, _cli_admin(), excel_friendly=args.excel_friendly, raw=args.raw
            )
        os.replace(part, out)
    except MilestoneError as exc:  # refused (an XLSX with more rows than Excel holds) or the database went
        print(f"Nothing was exported: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"Export interrupted: {out} was not written.", file=sys.stderr)
        return 130
    except OSError as exc:  # the disk is full, the folder is read-only or missing
        print(f"Nothing was exported: could not write {out}: {exc.strerror or exc}.", file=sys.stderr)
        return 1
    finally:
        part.unlink(missing_ok=True)
    print(f"Wrote {rows:,} rows to {out}")
    return 0


def cmd_import_xero(args: argparse.Namespace) -> int:
    """Validate a Xero CSV export as a whole, then upsert it (or, with --dry-run, say what would change)."""
    from milestone.services import imports

    path = Path(args.file)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        return 2
    data = path.read_bytes()
    try:
        rates = imports.parse_rates("\n".join(args.rate or []), "--rate")
        if args.rates_file:
            rates_path = Path(args.rates_file)
            if not rates_path.is_file():
                print(f"No such rates file: {rates_path}", file=sys.stderr)
                return 2
            rates = imports.parse_rates(rates_path.read_text(encoding="utf-8-sig"), rates_path.name) | rates
    except (RowProblems, UnicodeDecodeError) as exc:
        problems = exc.problems if isinstance(exc, RowProblems) else [f"{args.rates_file}: not UTF-8 text"]
        print("Nothing was imported: the rates are wrong:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 2

    def category(value: str | None) -> str | None:
        return imports.NO_CATEGORY if value is not None and value.strip().lower() == "none" else value

    options = imports.ImportOptions(
        rates=rates,
        template_status=args.status,
        project_category=category(args.project_category),
        phase_category=category(args.phase_category),
        create_projects=args.create_projects,
    )

    def progress(fraction: float, text: str) -> None:
        print(f"\r{text} ({fraction:.0%})", end="", file=sys.stderr, flush=True)

    try:
        result = imports.import_file(
            data, path.name, _cli_admin(), kind=args.kind, dry_run=args.dry_run, progress=progress, options=options
        )
    except RowProblems as exc:
        print(f"\nNothing was imported: {path.name} has {len(exc.problems)} problem(s):", file=sys.stderr)
        print("\n".join(f"  {p}" for p in exc.problems), file=sys.stderr)
        return 1
    print(f"\n{result.summary}")
    if result.categories:
        print(
            f"Tracking: project = {result.project_category or '(none)'}, phase = {result.phase_category or '(none)'}"
            " (change with --project-category / --phase-category)"
        )
    if result.template:
        print(f"An import template: its documents are {args.status} (change with --status).")
    if result.new_names:
        done = "Created" if not args.dry_run else "New"
        print(f"{done}: {result.new_names}")
        for name, client in result.new_projects.items():
            print(f"  project {name!r}, client {client!r}")
        if args.dry_run and not args.create_projects:
            print("  Add --create-projects to create them with the documents.")
    for note in result.notes:
        print(f"  note: {note}")
    if not result.foreign.empty:
        print("Documents in another currency:")
        print(result.foreign.to_string(index=False, max_rows=50))
    if not result.skipped.empty:
        print("Skipped:")
        print(result.skipped.to_string(index=False, max_rows=50))
    if not result.reconciliation.empty:
        print("Reconciliation per Type (totals in the documents' own currency):")
        print(result.reconciliation.to_string(index=False))
    if args.dry_run and not result.changes.empty:
        print(result.changes.to_string(index=False, max_rows=20))
    if args.dry_run:
        print("Nothing was written (dry run). Run again without --dry-run to import.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """What `make run` needs before serving: database up, schema current, demo data present."""
    cmd_migrate(args)
    args.if_empty, args.scale, args.seed, args.quiet = True, args.scale, args.seed, False
    return cmd_seed(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m milestone", description="Milestone P&L dashboard")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="start, stop or locate the embedded PostgreSQL")
    p.add_argument("action", choices=["start", "stop", "url"])
    p.set_defaults(func=cmd_db)

    sub.add_parser("migrate", help="apply pending sql/NNN_*.sql migrations").set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="fill an empty database with deterministic demo data")
    p.add_argument("--scale", type=_positive_scale, default=1.0, help="1 = 1,000 projects, 100,000 invoices")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--if-empty", action="store_true", help="do nothing (exit 0) when data exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("demo", help="migrate and seed if empty (used by make run)")
    p.add_argument("--scale", type=_positive_scale, default=1.0)
    p.add_argument("--seed", type=int, default=42)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("users", help="manage app users")
    p.add_argument("action", choices=["add", "list", "disable", "enable", "reset", "role"])
    p.add_argument("username", nargs="?")
    p.add_argument("--role", choices=["admin", "finance", "viewer"], default="viewer")
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--password", help="omit to generate one (the user must change it at first login)")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("export", help="export a table (with filters) to CSV or XLSX")
    p.add_argument("table", choices=["projects", "invoices", "bills", "lines", "estimates", "monthly", "audit"])
    p.add_argument("--from", dest="date_from", type=date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--client", action="append", help="repeat for several clients")
    p.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    p.add_argument("--excel-friendly", action="store_true", help="CSV with the byte-order mark Excel needs for UTF-8")
    p.add_argument(
        "--raw",
        action="store_true",
        help="keep formula-like text (=, +, -, @ first) exactly, for another program; by default such "
        "cells get a leading apostrophe so a spreadsheet cannot run them",
    )
    p.add_argument("--out", help="file to write (default: milestone-TABLE-PERIOD.FORMAT)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import-xero", help="import a Xero invoice/bill CSV export (all or nothing)")
    p.add_argument("file", help="the CSV file Xero exported")
    p.add_argument(
        "--kind",
        choices=["auto", "invoices", "bills"],
        default="auto",
        help="auto (default) reads the Type column; otherwise every line is this kind",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and show what would change; write nothing")
    p.add_argument(
        "--create-projects",
        action="store_true",
        help="create the projects and build phases the file's tracking options name that Milestone lacks",
    )
    p.add_argument(
        "--rate",
        action="append",
        metavar="CUR=RATE",
        help="the base-currency value of one unit of CUR, e.g. --rate EUR=0.85 (repeat for more currencies)",
    )
    p.add_argument("--rates-file", metavar="CSV", help="rates as lines 'EUR,0.85' (header 'currency,rate' optional)")
    p.add_argument(
        "--status",
        choices=["Draft", "Awaiting Approval", "Awaiting Payment", "Paid"],
        default="Draft",
        help="the status of an import template's documents (the template has none); default Draft",
    )
    p.add_argument("--project-category", metavar="NAME", help="the tracking category that names projects")
    p.add_argument("--phase-category", metavar="NAME", help="the tracking category that names phases ('none': none)")
    p.set_defaults(func=cmd_import_xero)

    p = sub.add_parser("serve", help="serve the app")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("backup", help="pg_dump to DIR with checksum; prune old backups")
    p.add_argument("dir", nargs="?", help="default <data dir>/backups")
    p.add_argument("--keep-daily", type=int, default=7)
    p.add_argument("--keep-weekly", type=int, default=4)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup into an empty database (verifies checksum and rows)")
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="replace a non-empty database")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("health", help="check a running server's /health (exit 1 when unhealthy)")
    p.add_argument("--url", help="default http://127.0.0.1:8501<base path>/health")
    p.set_defaults(func=cmd_health)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        log_level = config.log_level()
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=log_level)
    args = build_parser().parse_args(argv)
    if args.command == "users" and args.action != "list" and not args.username:
        print(f"users {args.action} needs a USERNAME.", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
