"""Deployment files: Procfile, compose, Dockerfile and the shell scripts: binds, published ports, no root, no secrets."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
import yaml

from harness.processes import free_port, healthy, reap, start_redis, wait_until

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cr3t/p@ss word%"  # characters a URL must percent-encode
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_procfile_process_types():
    types = procfile()
    assert {"web", "worker", "release", "autoscaler"} <= set(types)
    assert "$PORT" in types["web"] or "${PORT" in types["web"]
    assert types["web"].startswith("gunicorn ") and "wsgi:app" in types["web"]
    assert types["release"] == "flask --app wsgi db upgrade"
    worker = types["worker"].split()  # `python scripts/worker.py` or `python -m scripts.worker`
    assert (ROOT / (worker[2].replace(".", "/") + ".py" if worker[1] == "-m" else worker[1])).is_file()


def test_web_runs_gunicorn_conf():
    """The settings that keep slow clients from pinning threads live in gunicorn.conf.py: no flag overrides them."""
    web = procfile()["web"]
    assert "--config gunicorn.conf.py" in web and (ROOT / "gunicorn.conf.py").is_file()
    assert not any(flag in web for flag in ("--worker-class", "-k ", "--keep-alive", "--threads"))


@pytest.mark.parametrize("env,bind", [
    ({"PORT": "31337"}, "0.0.0.0:31337"),  # Heroku sets PORT only: its router must reach every interface
    ({"BIND_HOST": "127.0.0.1", "PORT": "8000"}, "127.0.0.1:8000"),  # what `make run` sets
    ({}, "0.0.0.0:8000"),
])
def test_procfile_web_binds_bind_host(env, bind):
    clean = {k: v for k, v in os.environ.items() if k not in ("PORT", "BIND_HOST")}
    words = subprocess.run(["sh", "-c", f"printf '%s\\n' {procfile()['web']}"], env={**clean, **env},
                           capture_output=True, text=True, check=True).stdout.split()
    assert words[words.index("--bind") + 1] == bind


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


def published_host_ips(port) -> str:
    """The host address a compose port entry publishes on ("" = every interface)."""
    if isinstance(port, dict):  # long syntax, and what `docker compose config` writes
        return str(port.get("host_ip") or "") if port.get("published") else "-"
    parts = str(port).split("/")[0].rsplit(":", 2)
    return parts[0].strip("[]") if len(parts) == 3 else ("" if len(parts) == 2 else "-")


def compose_services() -> dict:
    command = compose_command()
    if command:  # compose's own reading: anchors, merges and variables resolved
        text = subprocess.run([*command, "config"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    else:
        text = (ROOT / "docker-compose.yml").read_text()
    return yaml.safe_load(text)["services"]


def test_compose_publishes_no_open_mode_port_beyond_loopback():
    services = compose_services()
    assert services["web"].get("ports"), "the web API should be reachable from the host"
    for name, service in services.items():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        if environment.get("AUTH_MODE", "open") == "token":
            continue
        for port in service.get("ports") or []:
            assert published_host_ips(port) in LOOPBACK | {"-"}, (name, port)
    assert published_host_ips("8000:8000") == "" and published_host_ips("127.0.0.1:8000:8000/tcp") == "127.0.0.1"
    assert published_host_ips({"target": 8000, "published": "8000", "host_ip": "0.0.0.0"}) == "0.0.0.0"


def test_docker_image_runs_as_a_non_root_user():
    lines = [line.split(None, 1) for line in (ROOT / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    stage = max(i for i, (word, *_) in enumerate(lines) if word.upper() == "FROM")
    users = [rest[0].strip() for word, *rest in lines[stage:] if word.upper() == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    last_user = max(i for i, (word, *_) in enumerate(lines) if word.upper() == "USER")
    assert not any(word.upper() == "RUN" for word, *_ in lines[last_user:])  # nothing after it needs root
    assert any("useradd" in rest[0] and users[-1] in rest[0] for word, *rest in lines if word.upper() == "RUN")


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory):
    """A private redis-server with a password on a free port, stopped (and reaped) afterwards."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    proc = start_redis(port, "--requirepass", PASSWORD, "--dir", str(tmp_path_factory.mktemp("redis")),
                       password=PASSWORD)
    try:
        yield port
    finally:
        reap(proc, grace=10)


def url_for(port: int, password: str = PASSWORD, user: str = "") -> str:
    return f"redis://{user}:{quote(password, safe='')}@127.0.0.1:{port}/0"


def leaks(text: str, password: str = PASSWORD) -> bool:
    return password in text or quote(password, safe="") in text


def test_check_redis_uses_a_password_without_showing_it(locked_redis, tmp_path):
    real = shutil.which("redis-cli")
    if not real:
        pytest.skip("redis-cli is not installed")
    spy = tmp_path / "bin" / "redis-cli"  # records every command line the script gives redis-cli
    spy.parent.mkdir()
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {tmp_path / "argv.log"}\nexec {real} "$@"\n')
    spy.chmod(0o755)
    env = {**os.environ, "PATH": f"{spy.parent}:{os.environ['PATH']}"}

    def check(url: str):
        return subprocess.run(["scripts/check_redis.sh", url], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
    up = check(url_for(locked_redis))
    # It names the Redis it read (an operator's first question after a fault), its password cut out.
    assert up.returncode == 0 and up.stdout.startswith(f"UP    redis://127.0.0.1:{locked_redis}/0 redis_version:"), \
        up.stdout + up.stderr
    assert "queue eda_fast:" in up.stdout and not leaks(up.stdout + up.stderr)
    wrong = check(url_for(locked_redis, "not-" + PASSWORD))
    assert wrong.returncode == 1 and "DOWN" in wrong.stderr and not leaks(wrong.stdout + wrong.stderr, "not-" + PASSWORD)
    assert check(f"redis://127.0.0.1:{locked_redis}/0").returncode == 1  # no password: refused by the server
    argv = (tmp_path / "argv.log").read_text()
    assert "PING" in argv and not leaks(argv) and "not-" not in argv  # never on a command line (ps)


def test_make_run_binds_loopback_and_prints_no_redis_password(locked_redis, tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in ("BIND_HOST", "AUTH_MODE", "ALLOWED_HOSTS")},
           "REDIS_URL": url_for(locked_redis), "PORT": str(port), "STORAGE_DIR": str(tmp_path / "storage"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "PATH": f"{Path(sys.executable).parent}:"
           + os.environ["PATH"]}
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["scripts/start_all.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}") or proc.poll() is not None, 90, "make run did not come up",
                   every=0.2)
        assert proc.poll() is None, log.read_text()
        listening = {(c.laddr.ip, c.laddr.port) for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid)
                     .children(recursive=True)] for c in _connections(p) if c.status == psutil.CONN_LISTEN}
        assert ("127.0.0.1", port) in listening and not {ip for ip, p in listening if p == port} - {"127.0.0.1"}
        time.sleep(1)  # let the autoscaler start its worker and say what it does
    finally:
        stop_group(proc)
    output = log.read_text()
    assert f"http://127.0.0.1:{port}" in output and "redis://***@127.0.0.1" in output
    assert not leaks(output), output


def _connections(process: psutil.Process) -> list:
    try:
        return process.net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the whole session (honcho, gunicorn, autoscaler, workers), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
