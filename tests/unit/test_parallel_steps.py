"""Steps that hand half their columns to a forked child give exactly what they give alone."""
from __future__ import annotations

import numpy as np
import pandas as pd

import jobs.pipeline.coerce as coerce


def _messy(rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "price": [f"${v:,.2f}" for v in rng.lognormal(3, 1, rows)], "city": rng.choice(["Oslo", "oslo ", "Rome"], rows),
        "zip": [f"{v:05d}" for v in rng.integers(500, 99_000, rows)], "ok": rng.choice(["yes", "no"], rows),
        "day": pd.Timestamp("2020-01-01").strftime("%Y-%m-%d"), "x": rng.normal(size=rows),
        "id": np.arange(rows), "note": [f"free text {i}" for i in range(rows)]})


def test_types_and_roles_split_with_a_child_match_the_single_process_result(monkeypatch):
    monkeypatch.setattr(coerce, "PARALLEL_CELLS", 100)
    frame = _messy()
    alone, alone_logs = coerce.repair_types(frame)
    split, split_logs = coerce.repair_types(frame, parallel=True)
    pd.testing.assert_frame_equal(alone, split)
    assert alone_logs == split_logs
    assert coerce.detect_roles(alone) == coerce.detect_roles(alone, parallel=True)
    assert coerce.detect_roles(alone)[0]["zip"] == "code"
