"""End to end on real dirty tables with known clean versions: curl upload, fast mode, the cleaned download scored."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import curl, upload, wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "dirty-clean"
SCORE = re.compile(r"precision (?P<p>[\d.]+) recall (?P<r>[\d.]+) F1 (?P<f1>[\d.]+); fixed (?P<fixed>\d+) of \d+ "
                   r"errors; broken (?P<broken>\d+) of (?P<right>\d+) right cells .*missing from the cleaned table "
                   r"(?P<missing>\d+)")
pytestmark = pytest.mark.timeout(300)


def _clean_and_score(server: str, folder: Path, tmp_path: Path) -> dict:
    body = upload(server, folder / "dirty.csv", user_id="bench", mode="fast")
    status = wait_for(server, body["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 180)
    assert status["status"] == "completed", status
    cleaned = tmp_path / f"{folder.name}.cleaned.csv"
    curl("-o", str(cleaned), f"{server}/dataset/{body['dataset_id']}/cleaned")
    text = subprocess.run([sys.executable, str(DATA / "score_cleaning.py"), str(folder / "dirty.csv"),
                           str(folder / "clean.csv"), str(cleaned)], capture_output=True, text=True, check=True).stdout
    found = SCORE.search(text)
    assert found, text
    return {"dataset_id": body["dataset_id"], **{k: float(v) for k, v in found.groupdict().items()}}


def test_hospital_table_is_repaired_without_breaking_right_cells(server, workers, tmp_path):
    workers()
    score = _clean_and_score(server, DATA / "hospital", tmp_path)
    # Measured 0.91 (precision 0.995); before the repairs 0.0. Typos and entity dependencies do the work.
    assert score["f1"] >= 0.85 and score["p"] >= 0.95, score
    assert score["broken"] <= 0.001 * score["right"] and score["missing"] == 0, score
    entries = requests.get(f"{server}/dataset/{score['dataset_id']}/logs/cleaning").json()["entries"]
    actions = {e["action"] for e in entries}
    assert {"repair_typos", "repair_from_dependency"} <= actions
    rule = next(e for e in entries if e["action"] == "repair_from_dependency")
    assert rule["params"]["rules"] and rule["params"]["examples"] and rule["count"] > 0


@pytest.mark.skipif(not SHARED.is_dir(), reason="the team's shared benchmark tables are beside this checkout only")
@pytest.mark.parametrize("table", sorted(p.name for p in SHARED.glob("*")) if SHARED.is_dir() else [])
def test_shared_dirty_tables_break_no_right_cell(server, workers, tmp_path, table):
    workers()
    score = _clean_and_score(server, SHARED / table, tmp_path)
    assert score["broken"] <= 0.001 * score["right"] and score["missing"] == 0, score
    # adult: education-num names education (measured 0.12, precision 0.98); rayyan's errors have no evidence
    # in the table (its "clean" dates are another format, its -1 a placeholder the dirty file leaves empty).
    assert score["f1"] >= {"adult": 0.1}.get(table, 0.0), score
