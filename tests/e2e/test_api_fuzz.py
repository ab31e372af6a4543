"""Schemathesis against live gunicorn and a worker, in open and token mode: no 5xx, nothing off the document."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from harness.processes import BIN, ROOT, reap, start_gunicorn
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(600)
CONFIG = Path(__file__).with_name("schemathesis.toml")
COLLABORATION = "contract-lab"
EXAMPLES = "25"  # per operation and phase; a fixed seed keeps a failure reproducible (`st replay`)
CSV = "city,price,rooms,zip\n" + "Oslo,12.5,3,0150\nBergen,9.0,2,5003\nOslo,14.0,4,0151\nTromsø,,2,9008\n" * 5


def _seed(base: str, owner: str, headers: dict) -> dict:
    """A completed deep-mode dataset in a collaboration: what the fuzzer's fixed ids name."""
    response = requests.post(f"{base}/dataset/upload", headers=headers, timeout=30,
                             files={"file": ("rooms.csv", CSV)},
                             data={"mode": "deep", "target": "price", "user_id": owner,
                                   "collaboration_id": COLLABORATION, "roles": '{"zip": "code"}'})
    assert response.status_code == 202, response.text
    dataset_id = response.json()["dataset_id"]
    def finished() -> dict | None:
        status = requests.get(f"{base}/dataset/{dataset_id}/status", headers=headers, timeout=5).json()
        return status if status["status"] in ("completed", "failed") else None
    status = wait_until(finished, 120, "the seed dataset did not finish", every=0.1)
    assert status["status"] == "completed", status
    return {"WRANGLER_DATASET_ID": dataset_id, "WRANGLER_COLLABORATION": COLLABORATION}


def _fuzz(base: str, env: dict, tmp_path: Path, web_log: Path, *headers: str) -> None:
    args = [str(BIN / "st"), "--config-file", str(CONFIG), "run", f"{base}/openapi.json", "--max-examples", EXAMPLES,
            "--seed", "20261201", "--report", "junit", "--report-dir", str(tmp_path)]
    for header in headers:
        args += ["--header", header]
    # From tmp_path: the CLI keeps a cache of what it found in its working directory.
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
    tracebacks = [block for block in web_log.read_text().split("ERROR app.errors: unhandled error")[1:]]
    assert done.returncode == 0, (done.stdout[-20000:] + done.stderr[-5000:]
                                  + "".join(f"\n--- web process:{block[:3000]}" for block in tracebacks[:3]))


@pytest.mark.parametrize("mode", ["open", "token"])
def test_schemathesis_finds_nothing(env, workers, tmp_path, mode):
    server_env, owner = dict(env, AUTH_MODE=mode), f"contract-{mode}"  # each its own quota of deep runs
    headers: dict = {}
    if mode == "token":
        made = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "tokens", "create", owner, "--collaboration",
                               COLLABORATION], cwd=ROOT, env=server_env, check=True, capture_output=True, text=True)
        headers = {"Authorization": f"Bearer {made.stdout.split()[-1]}"}
    log = tmp_path / "web.log"
    with open(log, "w") as output:
        web, base = start_gunicorn(server_env, "--workers", "2", output=output)
    try:
        workers(env_extra={"AUTH_MODE": mode})
        ids = _seed(base, owner, headers)
        _fuzz(base, {**os.environ, **ids}, tmp_path, log, *(f"{k}: {v}" for k, v in headers.items()))
    finally:
        reap(web)
