"""Static checks of the container and compose files (no Docker needed)."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


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
