"""Deployment files: the Procfile's process types and a compose file that compose accepts."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_procfile_process_types():
    types = procfile()
    assert {"web", "worker", "release", "autoscaler"} <= set(types)
    assert "$PORT" in types["web"] or "${PORT" in types["web"]
    assert types["web"].startswith("gunicorn ") and "wsgi:app" in types["web"]
    assert types["release"] == "flask --app wsgi db upgrade"
    assert (ROOT / types["worker"].split()[1]).is_file()


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.mark.skipif(compose_command() is None, reason="neither docker compose nor docker-compose is installed")
def test_compose_file_is_valid():
    result = subprocess.run([*compose_command(), "config", "--services"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert {"redis", "postgres", "minio", "web", "autoscaler", "release"} <= set(result.stdout.split())
