"""Export: CSV and Parquet writers, dates as dates, input representations, formulas neutralised, long values cut."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.pipeline.entries import MAX_PROSE, MAX_VALUE, bounded
from jobs.pipeline.export import (csv_table, formula_like, neutralise_csv, neutralised, safe_path, to_table,
                                  write_csv, write_parquet)
from jobs.pipeline.runner import PipelineOptions, run_pipeline


def _lines(path) -> list[str]:
    return path.read_text().splitlines()


def _iso(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(values, format="ISO8601"))


def test_date_only_column_is_written_as_a_date_in_csv_and_date32_in_parquet(tmp_path):
    frame = pd.DataFrame({"day": _iso(["2023-01-01", None, "1960-02-29"]), "n": [1, 2, 3]})
    write_csv(frame, tmp_path / "out.csv")
    assert _lines(tmp_path / "out.csv") == ['"day","n"', "2023-01-01,1", ",2", "1960-02-29,3"]
    write_parquet(frame, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("day").type == pa.date32()
    assert table.column("day").to_pylist() == [dt.date(2023, 1, 1), None, dt.date(1960, 2, 29)]
    assert to_table(frame).schema.field("day").type == pa.date32()


def test_timestamps_have_seconds_and_fractions_only_when_some_value_has_them(tmp_path):
    frame = pd.DataFrame({"at": _iso(["2023-01-01 10:00", None, "2023-06-01 12:30:15"]),
                          "fine": _iso(["2023-01-01 10:00", "2023-01-01 10:00:00.25", None])})
    write_csv(frame, tmp_path / "out.csv")
    assert _lines(tmp_path / "out.csv") == ['"at","fine"', '"2023-01-01 10:00:00","2023-01-01 10:00:00.000"',
                                             ',"2023-01-01 10:00:00.250"', '"2023-06-01 12:30:15",']
    write_parquet(frame, tmp_path / "out.parquet")
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert pa.types.is_timestamp(schema.field("at").type) and pa.types.is_timestamp(schema.field("fine").type)
    back = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_series_equal(back["at"], frame["at"], check_dtype=False)


def test_timezone_aware_columns_keep_their_offset(tmp_path):
    local = _iso(["2023-01-01 10:00", "2023-07-01 10:00", None])
    frame = pd.DataFrame({"paris": local.dt.tz_localize("Europe/Paris"), "utc": local.dt.tz_localize("UTC"),
                          "india": local.dt.tz_localize(dt.timezone(dt.timedelta(hours=5, minutes=30)))})
    write_csv(frame, tmp_path / "out.csv")
    assert _lines(tmp_path / "out.csv")[1:] == [
        '"2023-01-01 10:00:00+01:00","2023-01-01 10:00:00Z","2023-01-01 10:00:00+05:30"',
        '"2023-07-01 10:00:00+02:00","2023-07-01 10:00:00Z","2023-07-01 10:00:00+05:30"', ",,"]
    # midnight in a zone is still an instant: it is not written as a bare date
    write_csv(pd.DataFrame({"z": _iso(["2023-01-01"]).dt.tz_localize("UTC")}), tmp_path / "z.csv")
    assert _lines(tmp_path / "z.csv")[1] == '"2023-01-01 00:00:00Z"'


def test_formats_reproduce_the_input_representation_as_text(tmp_path):
    frame = pd.DataFrame({"day": _iso(["2023-02-01", None, "2023-02-01", "2024-12-31"]),
                          "at": _iso(["2023-02-01 07:05", "2023-02-01 19:45", None, "2024-12-31 00:00"]),
                          "clock": ["07:10", "19:45:30", None, "late"], "n": [1, 2, 3, 4]})
    formats = {"day": "%d/%m/%Y", "at": "%m/%d/%Y %I:%M %p", "clock": "%I:%M %p", "gone": "%Y"}
    write_csv(frame, tmp_path / "out.csv", formats=formats)
    assert _lines(tmp_path / "out.csv") == ['"day","at","clock","n"',
                                             '"01/02/2023","02/01/2023 07:05 AM","07:10 AM",1',
                                             ',"02/01/2023 07:45 PM","07:45 PM",2',
                                             '"01/02/2023",,,3',
                                             '"31/12/2024","12/31/2024 12:00 AM","late",4']
    assert to_table(frame, formats).column("day").to_pylist() == ["01/02/2023", None, "01/02/2023", "31/12/2024"]
    write_parquet(frame, tmp_path / "out.parquet")  # Parquet keeps types: formats are for the CSV
    assert pq.read_schema(tmp_path / "out.parquet").field("day").type == pa.date32()
    with pytest.raises(ValueError, match="strftime pattern"):
        write_csv(frame, tmp_path / "bad.csv", formats={"day": 3})


def test_tables_are_accepted_and_give_the_same_files(tmp_path):
    frame = pd.DataFrame({"day": _iso(["2023-01-01", "2023-01-02"]), "at": _iso(["2023-01-01 10:00", None]),
                          "s": ["a,b", None], "x": [1.5, np.nan]})
    write_csv(frame, tmp_path / "frame.csv", formats={"day": "%Y/%m/%d"})
    raw = pa.Table.from_pandas(frame, preserve_index=False)  # timestamps at midnight, not yet date32
    write_csv(raw, tmp_path / "raw.csv", formats={"day": "%Y/%m/%d"})
    write_csv(to_table(frame, {"day": "%Y/%m/%d"}), tmp_path / "table.csv")
    assert (tmp_path / "frame.csv").read_text() == (tmp_path / "raw.csv").read_text() == \
        (tmp_path / "table.csv").read_text()
    assert _lines(tmp_path / "frame.csv") == ['"day","at","s","x"', '"2023/01/01","2023-01-01 10:00:00","a,b",1.5',
                                               '"2023/01/02",,,']
    write_parquet(raw, tmp_path / "raw.parquet")
    assert pq.read_schema(tmp_path / "raw.parquet").field("day").type == pa.date32()


def test_input_frame_is_not_mutated_and_other_columns_are_untouched(tmp_path):
    frame = pd.DataFrame({"day": _iso(["2023-01-01", None]), "n": pd.array([1, None], dtype="Int64"),
                          "flag": [True, False], "s": ["x", "y"]})
    snapshot = frame.copy(deep=True)
    write_csv(frame, tmp_path / "out.csv", formats={"day": "%d.%m.%Y"})
    write_parquet(frame, tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(frame, snapshot)
    assert _lines(tmp_path / "out.csv") == ['"day","n","flag","s"', '"01.01.2023",1,true,"x"', ",,false,\"y\""]
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert back["n"].dtype == "Int64" and back["flag"].tolist() == [True, False]


def test_empty_and_all_missing_datetime_columns(tmp_path):
    frame = pd.DataFrame({"day": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[us]"), "n": [1, 2]})
    write_csv(frame, tmp_path / "out.csv")
    assert _lines(tmp_path / "out.csv") == ['"day","n"', ",1", ",2"]
    write_csv(frame.iloc[:0], tmp_path / "empty.csv")
    assert _lines(tmp_path / "empty.csv") == ['"day","n"']


# -- spreadsheet formulas (OWASP CSV injection) -----------------------------------------------------------

LIVE = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "-", "=cmd|'/c calc'!A1"]
INERT = ["-5", "-1.5e3", "-1,200", "-12%", "-.5", " =1+1", "a=1", "", "'=1"]  # numbers, or not a formula start


def test_formula_like_text_is_what_a_spreadsheet_would_run():
    assert [formula_like(t) for t in LIVE] == [True] * len(LIVE)
    assert [formula_like(t) for t in INERT] == [False] * len(INERT)
    assert formula_like("-5\n") and formula_like("-5 ") and formula_like("-5-5")  # not a plain number


def test_neutralised_prefixes_text_cells_and_headers_and_leaves_numbers(tmp_path):
    frame = pd.DataFrame({"=h": LIVE + INERT + [None], "n": np.arange(18) - 9.5,
                          "cat": pd.Categorical(["@x", "y"] * 9), "when": _iso(["2023-01-01"] * 18)})
    table, count = neutralised(csv_table(frame))
    assert count == len(LIVE) + 9 + 1  # the cells, the nine '@x' categories, the header
    assert table.column_names == ["'=h", "n", "cat", "when"]
    assert table.column(0).to_pylist() == ["'" + t for t in LIVE] + INERT + [None]
    assert table.column("cat").to_pylist() == ["'@x", "y"] * 9
    write_csv(frame, tmp_path / "raw.csv")
    write_csv(table, tmp_path / "safe.csv")
    raw, safe = (_lines(tmp_path / name) for name in ("raw.csv", "safe.csv"))
    # the numeric and date columns are the same bytes: a negative number stays a number
    assert [line.rsplit(",", 3)[-3::2] for line in raw[1:3]] == [line.rsplit(",", 3)[-3::2] for line in safe[1:3]]
    assert pd.read_csv(tmp_path / "safe.csv")["n"].tolist() == frame["n"].tolist()
    untouched = pd.DataFrame({"a": ["x", "-5"], "b": [-1, 2]})
    assert neutralised(csv_table(untouched)) == (csv_table(untouched), 0)


def test_neutralise_csv_streams_a_stored_file_as_text(tmp_path):
    frame = pd.DataFrame({"=h": LIVE + INERT + [None], "n": np.arange(18) - 9.5})
    write_csv(frame, tmp_path / "raw.csv")
    assert neutralise_csv(tmp_path / "raw.csv", tmp_path / "safe.csv") == len(LIVE) + 1
    back = pd.read_csv(tmp_path / "safe.csv", keep_default_na=False, dtype={"'=h": str})
    assert back["'=h"].tolist() == ["'" + t for t in LIVE] + INERT + [""]
    assert back["n"].tolist() == frame["n"].tolist()
    write_csv(frame.iloc[:0], tmp_path / "empty.csv")
    assert neutralise_csv(tmp_path / "empty.csv", tmp_path / "empty_safe.csv") == 1
    assert _lines(tmp_path / "empty_safe.csv") == ['"\'=h","n"']
    assert safe_path("datasets/x/cleaned.csv") == "datasets/x/cleaned.safe.csv"


# -- long values: cut where they are shown, never in the data --------------------------------------------

def test_bounded_cuts_values_names_and_prose_at_their_limits():
    entry = {"column": "c" * 300, "message": "m" * 5000, "count": 3, "before": None,
             "params": {"examples": {"k" * 300: "v" * 300}, "reasoning": "r" * 5000, "columns": ["n" * 300, 4.5]}}
    out = bounded(entry)
    assert len(out["column"]) == MAX_VALUE and out["column"].endswith("…") and len(out["message"]) == MAX_PROSE
    assert [(len(k), len(v)) for k, v in out["params"]["examples"].items()] == [(MAX_VALUE, MAX_VALUE)]
    assert len(out["params"]["reasoning"]) == MAX_PROSE and out["params"]["columns"][1] == 4.5
    assert out["count"] == 3 and out["before"] is None and len(entry["column"]) == 300  # a copy
    assert bounded({"column": "short", "message": "fine"}) == {"column": "short", "message": "fine"}


def test_a_100_kb_cell_and_a_long_name_are_cut_in_logs_and_statistics_not_in_the_data():
    big, name = "y" * 100_000, "n" * 300
    frame = pd.DataFrame({"i": np.arange(150), name: [big if i % 9 else None for i in range(150)]})
    result = run_pipeline(frame, PipelineOptions(mode="deep"))
    assert result.frame[name].tolist() == [big] * 150  # filled with the whole value
    assert result.imputed["value"].tolist() == [big] * 17
    logs = [bounded(e) for entries in result.logs.values() for e in entries]  # as they are stored
    fill = next(e for e in logs if e["action"] == "impute_mode")
    assert fill["column"] == name[:MAX_VALUE - 1] + "…" and len(fill["message"]) == MAX_PROSE
    assert len(fill["params"]["value"]) == MAX_VALUE
    stats = result.statistics["columns"]
    assert list(stats) == ["i", name[:MAX_VALUE - 1] + "…"]
    assert stats[name[:MAX_VALUE - 1] + "…"]["top_values"][0]["value"] == big[:MAX_VALUE - 1] + "…"
    report = json.dumps(result.report)
    assert big[:MAX_PROSE] not in report and name not in report and len(report) < 20_000
