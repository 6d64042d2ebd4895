"""The container, compose and proxy files, read and cross-checked (no Docker needed): what one file
names (a path, a port, a base path, a size limit), the others and the code agree with."""

import os
import re
import shlex
import subprocess
import sys
import tomllib

import yaml

from milestone import config
from milestone.config import PROJECT_ROOT as ROOT

BASE_PATH = "/milestone-app"


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _caddyfile() -> str:
    return (ROOT / "deploy" / "Caddyfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def test_dockerfile_is_multi_stage_non_root_and_health_checked():
    steps = _instructions(_dockerfile())
    assert sum(1 for op, _ in steps if op == "FROM") >= 2
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert health and f"{BASE_PATH}/health" in health[0]
    exposed = [arg for op, arg in steps if op == "EXPOSE"]
    assert exposed == ["8501"] and "127.0.0.1:8501" in health[0]
    assert (
        dict(arg.split("=", 1) for op, args in steps if op == "ENV" for arg in shlex.split(args) if "=" in arg)[
            "MILESTONE_BASE_PATH"
        ]
        == BASE_PATH
    )
    cmd = [arg for op, arg in steps if op == "CMD"][-1]
    assert "milestone migrate" in cmd and "milestone serve" in cmd and "--port 8501" in cmd


def test_the_image_installs_the_hashed_runtime_lock_and_copies_what_exists():
    steps = _instructions(_dockerfile())
    runs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "--require-hashes -r requirements.lock" in runs
    copies = [shlex.split(arg) for op, arg in steps if op == "COPY"]
    sources = [
        src
        for args in copies
        if not any(a.startswith("--from") for a in args)
        for src in [a for a in args if not a.startswith("--")][:-1]
    ]
    assert "requirements.lock" in sources
    for src in sources:
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert not [s for s in sources if s.rstrip("/") in ignored], "the Dockerfile copies a path .dockerignore drops"


def test_no_secrets_baked_into_the_image():
    text = _dockerfile()
    assert not re.search(r"(PASSWORD|COOKIE_KEY|SECRET|DSN)\s*=", text, re.I)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "tests", ".venv", ".milestone", ".env"):
        assert entry in ignored


def test_compose_app_db_and_proxy():
    compose = _compose()
    services = compose["services"]
    assert set(services) >= {"app", "db", "proxy"}
    db = services["db"]
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in db["volumes"]) and "pgdata" in compose["volumes"]
    app = services["app"]
    assert app["build"] == "."
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["MILESTONE_BASE_PATH"] == BASE_PATH
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    assert "ports" not in app and "8501" in [str(p) for p in app["expose"]]  # only the proxy is published
    proxy = services["proxy"]
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    caddy_mount = [v for v in proxy["volumes"] if v.endswith(":/etc/caddy/Caddyfile:ro")]
    assert caddy_mount and (ROOT / caddy_mount[0].split(":")[0]).is_file()
    for svc in services.values():  # secrets are references, never literals
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|COOKIE_KEY|DSN", key):
                assert str(value).startswith("${"), key
            if key == "DATABASE_URL":
                assert "${POSTGRES_PASSWORD" in value


def test_proxy_serves_the_base_path_and_hides_metrics():
    caddy = _caddyfile()
    assert f"handle {BASE_PATH}*" in caddy and "reverse_proxy app:8501" in caddy
    assert re.search(rf"@metrics path {re.escape(BASE_PATH)}/metrics\s", caddy) and "respond @metrics 404" in caddy
    assert "X-Forwarded-Proto" in caddy


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def _caddy_bytes(size: str) -> int:
    """Caddy's size syntax: decimal KB/MB/GB, binary KiB/MiB/GiB."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", size)
    assert m and m[2].lower() in _UNITS, size
    return int(float(m[1]) * _UNITS[m[2].lower()])


def test_caddy_size_units():
    assert _caddy_bytes("20MB") == 20_000_000 and _caddy_bytes("40MiB") == 40 * 2**20


def test_the_proxy_takes_the_import_upload_limit_from_the_same_variable(monkeypatch):
    """One number: a file the Import page accepts is never refused with a bare 413 by Caddy."""
    monkeypatch.delenv("MILESTONE_IMPORT_MAX_MB", raising=False)
    default = config.IMPORT_MAX_MB_DEFAULT
    assert config.import_max_mb() == default
    sizes = re.findall(r"request_body\s*\{[^}]*?max_size\s+(\S+)", _caddyfile())
    assert sizes == [f"{{$MILESTONE_IMPORT_MAX_MB:{default}}}MiB"]  # MiB, as the app counts
    services = _compose()["services"]
    for name in ("app", "proxy"):
        assert services[name]["environment"]["MILESTONE_IMPORT_MAX_MB"] == f"${{MILESTONE_IMPORT_MAX_MB:-{default}}}"


def test_streamlit_upload_limit_is_the_import_limit():
    streamlit_config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert streamlit_config["server"]["maxUploadSize"] == config.IMPORT_MAX_MB_DEFAULT
    # `serve` sets it from the variable (Streamlit reads STREAMLIT_* variables only under `streamlit run`)
    probe = (
        "from streamlit import config; from milestone import server; server.create_app(); "
        "print(config.get_option('server.maxUploadSize'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MILESTONE_IMPORT_MAX_MB": "12"},
        check=True,
    ).stdout
    assert out.split()[-1] == "12"
