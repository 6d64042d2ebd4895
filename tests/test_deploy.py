"""Static checks of the container and compose files (no Docker needed)."""
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_dockerfile_is_multi_stage_non_root_and_health_checked():
    text = _dockerfile()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*", text, re.M) and "/health" in text
    assert re.search(r"^EXPOSE 8501", text, re.M)
    assert "milestone serve" in text and "milestone migrate" in text


def test_no_secrets_baked_into_the_image():
    text = _dockerfile()
    assert not re.search(r"(PASSWORD|COOKIE_KEY|SECRET|DSN)\s*=", text, re.I)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "tests", ".venv", ".milestone", ".env"):
        assert entry in ignored


def test_compose_app_db_and_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"app", "db", "proxy"}
    db = services["db"]
    assert db["image"] == "postgres:16"
    assert "healthcheck" in db and any(v.startswith("pgdata:") for v in db["volumes"])
    assert "pgdata" in compose["volumes"]
    app = services["app"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["MILESTONE_BASE_PATH"] == "/milestone-app"
    assert "ports" not in app  # only the proxy is published
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
    for svc in services.values():  # secrets are references, never literals
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|COOKIE_KEY|DSN", key):
                assert str(value).startswith("${"), key
            if key == "DATABASE_URL":
                assert "${POSTGRES_PASSWORD" in value


def test_proxy_serves_the_base_path_with_limits():
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "handle /milestone-app*" in caddy and "reverse_proxy app:8501" in caddy
    assert "max_size" in caddy and "X-Forwarded-Proto" in caddy


def _default_import_mb(monkeypatch) -> int:
    from milestone import config

    monkeypatch.delenv("MILESTONE_IMPORT_MAX_MB", raising=False)
    return config.import_max_bytes() // (1024 * 1024)


def test_the_proxy_takes_the_import_upload_limit_from_the_same_variable(monkeypatch):
    """One number: a file the Import page accepts is never refused with a bare 413 by Caddy."""
    default = _default_import_mb(monkeypatch)
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert re.findall(r"^\s*max_size\s+(\S+)\s*$", caddy, re.M) == [f"{{$MILESTONE_IMPORT_MAX_MB:{default}}}MiB"]
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("app", "proxy"):
        assert services[name]["environment"]["MILESTONE_IMPORT_MAX_MB"] == f"${{MILESTONE_IMPORT_MAX_MB:-{default}}}"


def test_streamlit_upload_limit_is_the_import_limit(monkeypatch):
    default = _default_import_mb(monkeypatch)
    streamlit_config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert streamlit_config["server"]["maxUploadSize"] == default
    # `serve` sets it from the variable (Streamlit itself reads STREAMLIT_* variables only under `streamlit run`)
    probe = ("from streamlit import config; from milestone import server; server.create_app(); "
             "print(config.get_option('server.maxUploadSize'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "MILESTONE_IMPORT_MAX_MB": "12"}, check=True).stdout
    assert out.split()[-1] == "12"
