"""The exported plan script (plan.py): run with plain pandas on the raw file, it gives the service's cleaned table."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.cleaning_plan import build_plan
from jobs.pipeline.export import csv_table, neutralised, write_csv
from jobs.pipeline.load import inspect, load_step
from jobs.pipeline.options import PipelineOptions
from jobs.pipeline.runner import run_pipeline
from jobs.pipeline.numbers import parse_numbers
from jobs.pipeline.recipe import read_numbers
from jobs.pipeline.script import ScriptError, plan_script
from tests.standalone import run_plan_script

SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "dirty-clean"
STANDALONE = {"__future__", "math", "re", "sys", "warnings", "typing", "numpy", "pandas"}


def served(path: Path, **options) -> tuple[Path, str]:
    """The service's cleaned CSV of a raw file (the worker's path, in-process) and the script of its plan."""
    chosen = PipelineOptions(**options)
    frame, logs = load_step(path, inspect(path, path.name), na_values=chosen.na_values)
    result = run_pipeline(frame, chosen)
    plan = json.loads(json.dumps(build_plan(logs[0], chosen, result)))  # as stored
    out = path.with_name(path.stem + ".service.csv")  # as the download is by default: formulas escaped
    write_csv(neutralised(csv_table(result.frame, result.formats, logs[0]["params"].get("headers")))[0], out)
    return out, plan_script(plan, json.loads(json.dumps(result.repairs)), " for a test")


def run_script(script: str, raw: Path) -> Path:
    return run_plan_script(script, raw, raw.parent / "elsewhere")


def assert_same_table(service: Path, script: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_csv(service), pd.read_csv(script), check_dtype=False, check_exact=False,
                                  rtol=1e-12)


def messy_feed(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """A feed with what real files get wrong: units, currency, decimal comma, dates in mixed formats, typos and
    case variants, yes/no words, times, a -999 stand-in, a dependency broken in a few rows, a decimal slip,
    duplicates, a code with leading zeros, an empty header and gaps of every kind."""
    rng = np.random.default_rng(seed)
    store = rng.choice(["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"], n)
    city = pd.Series(store).map({f"S{i}": c for i, c in enumerate(
        ["Oslo", "Rome", "Paris", "Bergen", "Lyon", "Turin", "Nice", "Milan", "Bonn"], 1)}).to_numpy(dtype=object)
    city[rng.choice(n, 6, replace=False)] = "Rome"  # a few rows break store → city
    city[rng.choice(n, 20, replace=False)] = "oslo "
    city[rng.choice(n, 3, replace=False)] = "Osslo"
    weight = rng.normal(70, 8, n).round(1)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    frame = pd.DataFrame({
        "zip": [f"0{v:04d}" for v in rng.integers(100, 9999, n)],
        "store": store, "city": city,
        "weight": [f"{w} kg" if i % 7 else f"{w * 2.20462:.1f} lb" for i, w in enumerate(weight)],
        "price": [f"${v:,.2f}" for v in rng.lognormal(5, 1, n)],
        "rate": [f"{v:.2f}".replace(".", ",") for v in rng.uniform(0, 9, n)],
        "day": np.where(rng.random(n) < 0.7, days.strftime("%d.%m.%Y"), days.strftime("%Y-%m-%d")),
        "at": [f"{h}:{m:02d} {'am' if h < 12 else 'pm'}" for h, m in zip(rng.integers(1, 12, n), rng.integers(0, 60, n))],
        "ok": rng.choice(["yes", "no", "Y", "N"], n),
        "score": rng.normal(50, 10, n).round(2),
        "count": rng.integers(0, 40, n).astype(float),
        "logged": (pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ms")).strftime(
            "%Y-%m-%dT%H:%M:%S.%f").str[:-3],  # milliseconds
        "": rng.integers(0, 9, n),
    }).astype(object)
    frame.loc[rng.random(n) < 0.05, "score"] = -999
    frame.loc[3, "score"] = 5012.0  # a decimal slip of 50.12
    frame.loc[10, "score"] = 400.0  # far out: an outlier
    for col, share in (("weight", 0.1), ("price", 0.25), ("city", 0.05), ("count", 0.15), ("day", 0.05), ("ok", 0.1)):
        frame.loc[rng.random(n) < share, col] = None
    return pd.concat([frame, frame.iloc[:15]], ignore_index=True)  # duplicated rows


@pytest.mark.parametrize("options", [{}, {"outliers": "clip", "missing_indicators": True},
                                     {"outliers": "null", "outlier_columns": True}])
def test_the_script_reproduces_the_cleaned_table_of_a_messy_feed(tmp_path, options):
    raw = tmp_path / "feed.csv"
    messy_feed().to_csv(raw, index=False)
    service, script = served(raw, **options)
    assert_same_table(service, run_script(script, raw))


def test_the_script_reproduces_a_table_whose_cells_were_repaired_then_clipped(tmp_path):
    """Cells repaired one by one (entity consistency) and afterwards clipped: the script has the repair's value."""
    rng = np.random.default_rng(1)
    model = rng.choice([f"M{i}" for i in range(30)], 2000)
    seats = pd.Series(model).str[1:].astype(int).mul(10).add(20).astype(float)
    seats[rng.choice(2000, 40, replace=False)] = 2  # disagree with their model's majority
    seats[rng.choice(2000, 40, replace=False)] = None
    raw = tmp_path / "planes.csv"
    wide = np.where(pd.Series(model).str[1:].astype(int) > 15, "yes", "no")
    wide[rng.choice(2000, 30, replace=False)] = "no"  # a yes/no column its model determines, broken in places
    pd.DataFrame({"model": model, "seats": seats, "wide": wide, "year": rng.integers(1990, 2013, 2000)}
                 ).to_csv(raw, index=False)
    service, script = served(raw, outliers="clip")
    assert "set_cells(frame, 'seats'" in script and "set_cells(frame, 'wide', {" in script
    assert_same_table(service, run_script(script, raw))


@pytest.mark.parametrize("name", ["rayyan", "adult"])
def test_the_script_reproduces_the_shared_dirty_tables(tmp_path, name):
    source = SHARED / name / "dirty.csv"
    if not source.exists():
        pytest.skip("the shared benchmarks are not beside this checkout")
    raw = tmp_path / "dirty.csv"
    raw.write_bytes(source.read_bytes())
    service, script = served(raw, outliers="clip")
    assert_same_table(service, run_script(script, raw))


def test_the_script_needs_pandas_and_numpy_only_and_says_why_at_each_step(tmp_path):
    raw = tmp_path / "feed.csv"
    messy_feed(120).to_csv(raw, index=False)
    _, script = served(raw)
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Import)
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(ast.parse(script))
                                            if isinstance(node, ast.ImportFrom)}
    assert imported <= STANDALONE
    assert "frame['price'] = read_numbers(frame['price'], decimal_comma=False)" in script
    assert "# 100% of values parse as numbers (currency" in script
    assert "frame['weight'] = read_units(frame['weight'], {'kg': 1000.0, 'lb': 453.59237}, 1000.0)" in script
    assert "frame['day'] = read_dates(frame['day'], dayfirst=True, formats=['%d.%m.%Y'])" in script
    assert "frame = set_cells(frame, 'score', {3: 50.12" in script  # the decimal slip, by raw row
    assert "# Removed 15 exact duplicate rows." in script


def test_names_and_values_from_the_file_stay_literals_and_comments(tmp_path):
    """A hostile header or value cannot become code in the script: it is quoted, and prose is one-line comments."""
    hostile = 'x"]\n__import__("os").system("touch PWNED") #'
    frame = pd.DataFrame({hostile: [f" v{i % 3}\r\n=1+1" if i % 5 == 0 else f"v{i % 3}" for i in range(60)],
                          "=cmd|' /C calc'!A0": ['=HYPERLINK("http://x")' if i % 7 == 0 else "ok" for i in range(60)],
                          "n": [float(i) if i % 4 else None for i in range(60)]})
    raw = tmp_path / "hostile.csv"
    frame.to_csv(raw, index=False)
    service, script = served(raw)
    out = run_script(script, raw)
    assert not (out.parent / "PWNED").exists() and not Path("PWNED").exists()
    assert_same_table(service, out)


def test_a_file_the_script_cannot_read_is_refused_with_the_reason(tmp_path):
    raw = tmp_path / "rows.json"
    raw.write_text(json.dumps([{"a": i, "b": "x"} for i in range(20)]))
    frame, logs = load_step(raw, inspect(raw, raw.name))
    result = run_pipeline(frame)
    with pytest.raises(ScriptError, match="CSV and TSV"):
        plan_script(build_plan(logs[0], PipelineOptions(), result), result.repairs)


def test_the_script_fills_gaps_as_the_advisor_decided(tmp_path):
    """Every kind of fill an advisor may choose (group mode, dependency, interpolation along a date, constant,
    regression on a category and a number) comes out of the script as the service filled it."""
    rng = np.random.default_rng(3)
    n = 300
    group = rng.choice(["a", "b", "c", "d"], n)
    frame = pd.DataFrame({
        "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "group": group,
        "house_no": np.repeat(np.arange(n // 3), 3),  # three rows a house: an owner present once names the others
        "label": np.repeat([f"owner {i % 25}" for i in range(n // 3)], 3),
        "kind": np.where(rng.random(n) < 0.8, pd.Series(group).map({"a": "x", "b": "y", "c": "x", "d": "z"}), "y"),
        "level": np.cumsum(rng.normal(0, 1, n)).round(2),
        "size": rng.normal(10, 2, n).round(1),
        "note": rng.choice(["ok", "late", "early"], n),
    })
    frame["cost"] = (frame["size"] * 3 + frame["group"].map({"a": 1, "b": 5, "c": 9, "d": 2}) + rng.normal(0, .5, n)
                     ).round(2)
    for col in ("label", "kind", "level", "note", "cost"):
        frame.loc[rng.random(n) < 0.3, col] = None
    raw = tmp_path / "advised.csv"
    frame.to_csv(raw, index=False)
    answers = {"label": {"action": "dependency", "params": {"by": "house_no"}},
               "kind": {"action": "group_mode", "params": {"by": "group"}},
               "level": {"action": "interpolate", "params": {"by": "day"}},
               "note": {"action": "constant", "params": {"value": "unknown"}},
               "cost": {"action": "regression", "params": {"predictors": ["size", "group"]}}}

    def advise(request: dict) -> dict:
        return {"columns": {c: {**answers[c], "reasoning": "the advisor's", "confidence": 0.9}
                            for c in request["roles"]}}

    chosen = PipelineOptions(mode="smart")
    loaded, logs = load_step(raw, inspect(raw, raw.name))
    result = run_pipeline(loaded, chosen, advise=advise)
    plan = json.loads(json.dumps(build_plan(logs[0], chosen, result)))
    assert {c: plan["missing"][c]["action"] for c in answers} == {c: a["action"] for c, a in answers.items()}
    assert {plan["missing"][c]["source"] for c in answers} == {"advisor"}
    service = tmp_path / "service.csv"
    write_csv(result.frame, service, result.formats)
    assert_same_table(service, run_script(plan_script(plan, json.loads(json.dumps(result.repairs))), raw))


def test_long_names_and_values_are_applied_whole_and_odd_numbers_read_as_the_service_reads_them(tmp_path):
    """The plan shows long text cut; the script applies names and spellings whole. A number cell with a line
    break inside ('12\\n€') is no number to the service, nor to the script."""
    rng = np.random.default_rng(8)
    long_name = "price " + "x" * 224
    long_values = [("Category " + "y" * 240 + str(i % 3)) for i in range(90)]
    frame = pd.DataFrame({
        long_name: [f"${v:,.2f}" for v in rng.lognormal(4, 1, 90)],
        "kind": [v.upper() if i % 9 == 0 else v for i, v in enumerate(long_values)],
        "amount": [("12\n€" if i == 4 else f"€{v:.2f}") for i, v in enumerate(rng.normal(50, 5, 90))],
    })
    raw = tmp_path / "long.csv"
    frame.to_csv(raw, index=False)
    service, script = served(raw, outlier_columns=True)
    assert_same_table(service, run_script(script, raw))
    odd = pd.Series(["12\n€", "€5", "+5", "٣", " 1 200 ", "(3.5)", "12%"])
    pd.testing.assert_series_equal(read_numbers(odd, decimal_comma=False), parse_numbers(odd)[0])


def test_source_that_no_longer_defines_a_copied_name_is_refused(monkeypatch):
    """getsource reads files at call time: a file replaced under the process must not give a broken script."""
    import inspect

    from jobs.pipeline import script
    real = inspect.getsource
    monkeypatch.setattr(script.inspect, "getsource", lambda obj: "def elsewhere():\n    pass\n"
                        if getattr(obj, "__name__", "") == "handled" else real(obj))
    with pytest.raises(RuntimeError, match="handled"):
        script._copied()
