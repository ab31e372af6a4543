"""EDA: statistics, figure kinds and counts, sampling, the figure cap, PNG output and edge frames."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from jobs.pipeline.eda import run_eda

ROOT = Path(__file__).resolve().parents[2]


def shop(n: int = 300, seed: int = 8, gaps: bool = True) -> pd.DataFrame:
    """2 numeric (one skewed), 1 categorical, 1 identifier and 1 constant column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"id": range(n), "price": rng.lognormal(3, 1, n).round(2),
                          "qty": rng.poisson(4, n).astype(float), "city": rng.choice(["Oslo", "Rome", "Lima"], n),
                          "const": "x"})
    if gaps:
        frame.loc[rng.random(n) < 0.1, "qty"] = np.nan
    return frame


def kinds(figures: list[dict]) -> list[str]:
    return sorted(f["kind"] for f in figures)


def skipped(logs: list[dict]) -> dict[str, list[str]]:
    return {e["params"]["reason"]: e["params"]["columns"] for e in logs if e["action"] == "eda_skip"}


def test_figure_kinds_and_order_for_a_small_frame():
    statistics, figures, _ = run_eda(shop())
    assert kinds(figures) == ["boxplot", "boxplot", "countplot", "heatmap", "histogram", "histogram", "missing"]
    assert [(f["kind"], f["column"]) for f in figures] == [
        ("heatmap", None), ("missing", None), ("histogram", "price"), ("boxplot", "price"),
        ("histogram", "qty"), ("boxplot", "qty"), ("countplot", "city")]
    assert statistics["figures"] == 7 and statistics["columns"]["price"]["charts"] == ["histogram", "boxplot"]
    _, complete, _ = run_eda(shop(gaps=False))
    assert "missing" not in kinds(complete) and len(complete) == 6


def test_identifier_and_constant_columns_get_a_note_and_no_chart():
    statistics, figures, logs = run_eda(shop())
    assert statistics["columns"]["id"]["note"] == "Identifier-like: every value is unique, so no chart is drawn."
    assert statistics["columns"]["const"]["note"].startswith("Constant: every value is 'x'")
    assert {"id", "const"}.isdisjoint(f["column"] for f in figures)
    assert skipped(logs) == {"id": ["id"], "constant": ["const"]}
    assert "note" not in statistics["columns"]["price"]


def test_statistics_use_all_rows_and_match_pandas():
    frame = shop()
    columns = run_eda(frame)[0]["columns"]
    qty, described = columns["qty"], frame["qty"].describe()
    assert qty["role"] == "numeric" and qty["count"] == described["count"] == 300 - qty["missing"]
    assert qty["missing_share"] == round(frame["qty"].isna().mean(), 4)
    for key, name in [("mean", "mean"), ("std", "std"), ("min", "min"), ("p25", "25%"), ("median", "50%"),
                      ("p75", "75%"), ("max", "max")]:
        assert qty[key] == pytest.approx(described[name], abs=1e-6)
    assert qty["skew"] == pytest.approx(frame["qty"].skew(), abs=1e-4)
    assert qty["distinct"] == frame["qty"].nunique()
    city = columns["city"]
    assert city["distinct"] == 3 and "mean" not in city
    assert city["top_values"] == [{"value": k, "count": int(v)} for k, v in frame["city"].value_counts().items()]


def test_countplot_shows_top_k_plus_other_and_states_the_coverage():
    rng = np.random.default_rng(1)
    codes = pd.Series(rng.zipf(1.6, 5000) % 57).map(lambda v: f"code {v:02d}")
    frame = pd.DataFrame({"code": codes})
    frame.loc[:99, "code"] = None
    statistics, figures, _ = run_eda(frame, top_k=10)
    counts = codes.iloc[100:].value_counts()
    share = counts.iloc[:10].sum() / counts.sum()
    (figure,) = figures[1:]  # after the missing-values chart
    assert figure["kind"] == "countplot"
    assert f"top 10 of {len(counts)} values, {share:.0%} of non-missing rows" in figure["title"]
    coverage = statistics["columns"]["code"]["top_k_coverage"]
    assert coverage == {"shown": 10, "distinct": len(counts), "share": round(share, 4)}
    assert len(statistics["columns"]["code"]["top_values"]) == 5
    few = run_eda(pd.DataFrame({"flag": [True, False, True] * 20}))[1]
    assert [f["title"] for f in few] == ["flag: all 2 values"]


def test_plots_use_a_seeded_sample_when_rows_exceed_sample_rows():
    frame = pd.DataFrame({"a": np.random.default_rng(2).normal(size=3000), "b": np.arange(3000) % 7 * 1.5,
                          "c": np.repeat(["x", "y", "z"], 1000)})
    statistics, figures, logs = run_eda(frame, sample_rows=1000)
    assert statistics["sampled_rows"] == 1000 and statistics["rows"] == 3000
    assert statistics["columns"]["a"]["count"] == 3000
    assert statistics["columns"]["a"]["mean"] == pytest.approx(frame["a"].mean(), abs=1e-6)
    assert {f["kind"]: f["sampled"] for f in figures} == {"heatmap": True, "histogram": True, "boxplot": True,
                                                          "countplot": False}
    assert "sample of 1,000 of 3,000 rows" in logs[0]["message"]
    again = run_eda(frame, sample_rows=1000)[1]
    assert [f["png"] for f in again] == [f["png"] for f in figures]  # reproducible
    whole, figures, _ = run_eda(frame, sample_rows=3000)
    assert whole["sampled_rows"] is None and not any(f["sampled"] for f in figures)


def test_figure_cap_keeps_frame_order_and_lists_skipped_columns():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({f"n{i:02d}": rng.normal(size=200) for i in range(30)})
    frame.iloc[0, 0] = np.nan
    statistics, figures, logs = run_eda(frame, max_figures=9)
    assert len(figures) == 8 and [f["kind"] for f in figures[:2]] == ["heatmap", "missing"]
    drawn = [f["column"] for f in figures[2::2]]
    assert drawn == ["n00", "n01", "n02"]  # 2 + 3 x 2 = 8: the fourth column's pair does not fit in 1 slot
    cap = statistics["figure_cap"]
    assert cap["limit"] == 9 and cap["skipped"] == [f"n{i:02d}" for i in range(3, 30)]
    assert "At most 9 figures" in cap["rule"] and "27 chartable columns" in cap["rule"]
    assert skipped(logs)["figure_cap"] == cap["skipped"]
    assert statistics["columns"]["n03"].get("charts") is None
    nothing, none, _ = run_eda(frame, max_figures=0)
    assert none == [] and len(nothing["figure_cap"]["skipped"]) == 30
    assert nothing["figure_cap"]["skipped_overview"] == ["heatmap", "missing"]


def test_log_scale_for_strictly_positive_skewed_columns():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"income": rng.lognormal(10, 1.2, 2000), "height": rng.normal(170, 8, 2000),
                          "change": rng.lognormal(0, 1.2, 2000) - 1.5})
    statistics, figures, _ = run_eda(frame)
    chosen = {(f["kind"], f["column"]): f for f in figures}
    assert statistics["columns"]["income"]["log_scale"] is True
    assert chosen["histogram", "income"]["log_scale"] and "log scale" in chosen["histogram", "income"]["title"]
    assert chosen["boxplot", "income"]["log_scale"]
    assert statistics["columns"]["height"]["log_scale"] is False  # not skewed
    assert statistics["columns"]["change"]["log_scale"] is False  # skewed, but not strictly positive
    assert "log scale" not in chosen["histogram", "change"]["title"]


def test_figures_are_png_bytes_of_the_stated_size():
    _, figures, _ = run_eda(shop())
    for figure in figures:
        assert set(figure) >= {"kind", "column", "title", "png", "width", "height"}
        assert figure["png"].startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(figure["png"])).size == (figure["width"], figure["height"])
    sizes = {f["kind"]: (f["width"], f["height"]) for f in figures}
    assert sizes["histogram"] == sizes["boxplot"] == sizes["countplot"] == (640, 400)
    assert sizes["heatmap"] == (800, 700)
    sharp = run_eda(shop(), dpi=192)[1]
    assert {(f["width"], f["height"]) for f in sharp if f["kind"] == "histogram"} == {(1280, 800)}


def test_the_input_frame_is_not_changed():
    frame = shop()
    frame["when"] = pd.date_range("2020-01-01", periods=len(frame), freq="h", tz="Europe/Oslo")
    before = frame.copy()
    run_eda(frame, sample_rows=100)
    pd.testing.assert_frame_equal(frame, before)


def test_statistics_are_json_serialisable_for_awkward_values():
    n = 400
    frame = pd.DataFrame({
        "ints": pd.array([1, None, 3, 4] * (n // 4), dtype="Int64"),
        "wild": [np.inf, -np.inf, 1.0, np.nan] * (n // 4),
        "cat": pd.Categorical(["a", "b"] * (n // 2), categories=["a", "b", "unused"]),
        "flag": pd.array([True, False, None, True] * (n // 4), dtype="boolean"),
        "when": pd.date_range("2021-01-01", periods=n, freq="D"),
        "blob": [[i] for i in range(n)]})
    statistics, figures, logs = run_eda(frame)
    text = json.dumps(statistics, allow_nan=False)
    assert json.loads(text)["columns"]["cat"]["distinct"] == 2  # unused categories are not values
    json.dumps(logs, allow_nan=False)
    assert ("histogram", "when") in {(f["kind"], f["column"]) for f in figures}
    assert "values over time" in next(f["title"] for f in figures if f["column"] == "when")
    assert statistics["columns"]["flag"]["role"] == "boolean"
    assert ("countplot", "flag") in {(f["kind"], f["column"]) for f in figures}


def test_a_column_that_cannot_be_drawn_is_noted_not_fatal():
    frame = pd.DataFrame({"inf": [np.inf, -np.inf] * 50, "x": np.arange(100.0) % 9})
    statistics, figures, logs = run_eda(frame, roles={"inf": "numeric", "x": "numeric"})
    assert statistics["columns"]["inf"]["note"].startswith("No chart: drawing failed")
    assert skipped(logs) == {"chart_failed": ["inf"]}
    assert {f["column"] for f in figures if f["column"]} == {"x"}


@pytest.mark.parametrize("frame", [
    pd.DataFrame(),
    pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)}),
    pd.DataFrame({"a": [1.5], "b": ["x"]}),
    pd.DataFrame({"gone": [np.nan] * 50, "text": [None] * 50, "v": np.arange(50.0) % 7}),
    pd.DataFrame({"température": np.arange(80.0) % 11, "価格": np.arange(80.0) ** 1.5, "emoji 🎉": ["ü", "ß"] * 40,
                  "$price$": np.arange(80) % 5 * 1.0, "": ["a", "b", "c", "d"] * 20}),
    pd.DataFrame(np.arange(40.0).reshape(20, 2) % 3, columns=["same", "same"]),
], ids=["empty", "no-rows", "one-row", "all-missing", "unicode", "duplicate-names"])
def test_edge_frames_do_not_raise(frame):
    statistics, figures, logs = run_eda(frame)
    json.dumps(statistics, allow_nan=False)
    assert statistics["rows"] == len(frame) and len(statistics["columns"]) == frame.shape[1]
    assert all(f["png"].startswith(b"\x89PNG") for f in figures)
    assert logs[0]["action"] == "eda_summary" and logs[0]["count"] == len(figures)


def test_empty_and_all_missing_columns_have_sensible_outputs():
    statistics, figures, _ = run_eda(pd.DataFrame())
    assert figures == [] and statistics["columns"] == {} and statistics["sampled_rows"] is None
    statistics, figures, _ = run_eda(pd.DataFrame({"gone": [np.nan] * 50, "v": np.arange(50.0) % 7}))
    assert statistics["columns"]["gone"]["note"] == "Every value is missing, so no chart is drawn."
    assert statistics["columns"]["gone"]["missing_share"] == 1.0
    assert [f["kind"] for f in figures] == ["missing", "histogram", "boxplot"]


def test_a_wide_frame_respects_the_cap():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(100, 300)), columns=[f"c{i}" for i in range(300)])
    statistics, figures, _ = run_eda(frame)
    assert len(figures) == 59  # heatmap + 29 columns x 2; the 30th pair would exceed 60
    assert len(statistics["figure_cap"]["skipped"]) == 300 - 29
    assert len(statistics["heatmap"]["columns"]) == 20 and statistics["heatmap"]["numeric_columns"] == 300


def test_heatmap_keeps_the_most_correlated_columns_and_says_so():
    rng = np.random.default_rng(6)
    base = rng.normal(size=1000)
    data = {f"noise{i}": rng.normal(size=1000) for i in range(20)}
    data.update({f"linked{i}": base + rng.normal(scale=0.3, size=1000) for i in range(4)})
    statistics, figures, _ = run_eda(pd.DataFrame(data), heatmap_max=4)
    assert sorted(statistics["heatmap"]["columns"]) == [f"linked{i}" for i in range(4)]  # strongest pair first
    assert figures[0]["kind"] == "heatmap"
    assert "4 of 24 numeric columns" in figures[0]["title"] and "largest mean |r|" in figures[0]["title"]
    assert (figures[0]["width"], figures[0]["height"]) == (800, 700)


def test_missing_chart_is_capped_at_40_columns_and_says_so():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({f"g{i}": np.where(rng.random(100) < 0.02 * (i + 1), np.nan, 1.0) for i in range(45)})
    figure = next(f for f in run_eda(frame)[1] if f["kind"] == "missing")
    assert figure["title"] == "Missing values: 45 of 45 columns have gaps (40 with most shown)"


def test_roles_passed_in_are_used_and_checked():
    frame = shop()
    statistics, figures, _ = run_eda(frame, roles={"city": "text"})
    assert statistics["columns"]["city"]["note"].startswith("Free text")
    assert "city" not in {f["column"] for f in figures}
    with pytest.raises(ValueError, match="roles\\['city'\\] must be one of"):
        run_eda(frame, roles={"city": "words"})
    with pytest.raises(ValueError, match="not a column"):
        run_eda(frame, roles={"town": "categorical"})
    with pytest.raises(ValueError, match="dtype is str"):
        run_eda(frame, roles={"city": "numeric"})


@pytest.mark.parametrize("options, message", [
    ({"max_figures": -1}, "max_figures must be an integer"), ({"sample_rows": 0}, "sample_rows"),
    ({"top_k": 0}, "top_k"), ({"heatmap_max": 1}, "heatmap_max"), ({"dpi": 5}, "dpi"), ({"top_k": 2.5}, "top_k"),
    ({"max_figures": True}, "max_figures")])
def test_bad_parameters_raise_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        run_eda(shop(), **options)
    with pytest.raises(ValueError, match="pandas DataFrame"):
        run_eda([1, 2, 3])


def test_log_entries_summarise_the_run():
    _, figures, logs = run_eda(shop())
    summary = logs[0]
    assert summary["action"] == "eda_summary" and summary["count"] == len(figures)
    assert summary["params"]["figures_by_kind"] == {"heatmap": 1, "missing": 1, "histogram": 2, "boxplot": 2,
                                                    "countplot": 1}
    assert summary["params"]["max_figures"] == 60 and summary["params"]["sampled_rows"] is None
    assert {e["action"] for e in logs} == {"eda_summary", "eda_skip"} and len(logs) == 3
    assert all(set(e) == {"column", "action", "count", "params", "source", "before", "after", "message"} for e in logs)


def test_drawing_uses_no_pyplot_and_writes_no_files(tmp_path):
    code = ("import sys; import pandas as pd; from jobs.pipeline.eda import run_eda; "
            "run_eda(pd.DataFrame({'a': [1.0, 2.0, 3.5, 9.0], 'b': ['x', 'y', 'x', 'x'], 'c': [3.0, 1, 2, 2]})); "
            "print('matplotlib.pyplot' in sys.modules)")
    env = {"PYTHONPATH": str(ROOT), "MPLCONFIGDIR": str(tmp_path / "mpl"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert [p.name for p in tmp_path.iterdir() if p.name != "mpl"] == []


def test_charts_drawn_by_a_forked_child_are_the_same_charts_in_the_same_order():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({**{f"x{i}": rng.normal(i, 1, 400) for i in range(6)},
                          **{f"c{i}": rng.choice(["a", "b", "c"], 400) for i in range(4)}})
    alone, together = run_eda(frame), run_eda(frame, parallel=True)
    assert [(f["kind"], f["column"], f["png"]) for f in alone[1]] == \
        [(f["kind"], f["column"], f["png"]) for f in together[1]]
    assert alone[0] == together[0]  # the child's charts and top-k coverage are in the statistics too
    assert "top_k_coverage" in together[0]["columns"]["c3"]
