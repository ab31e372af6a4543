"""Type repair: numbers stored as text, booleans, whitespace; evidence in the log."""
from __future__ import annotations

import pandas as pd
import pytest

from jobs.pipeline.coerce import parse_numbers, repair_types


@pytest.mark.parametrize("text,value", [
    ("$1,200", 1200.0), ("12%", 12.0), ("(5.00)", -5.0), ("€ 3.5", 3.5), ("1,234,567.25", 1234567.25),
    ("-7", -7.0), ("1e3", 1000.0),
])
def test_parse_numbers(text, value):
    numbers, _ = parse_numbers(pd.Series([text]))
    assert numbers.iloc[0] == value


def test_currency_column_converted_with_evidence(messy):
    out, logs = repair_types(messy)
    assert out["price"].dtype == "float64"
    assert out["price"].tolist()[:2] == [1200.0, 5.0]
    log = next(e for e in logs if e["action"] == "convert_numeric")
    assert log["column"] == "price" and log["params"]["share_parsed"] == 1.0
    assert log["params"]["currency"] == 3 and "100%" in log["message"]


def test_booleans_converted(messy):
    out, _ = repair_types(messy)
    assert str(out["active"].dtype) == "boolean"
    assert out["active"].tolist()[:3] == [True, False, True]


def test_mostly_text_column_left_alone():
    frame = pd.DataFrame({"note": ["12", "abc", "def", "ghi"]})
    out, logs = repair_types(frame)
    assert out["note"].tolist() == ["12", "abc", "def", "ghi"]
    assert not [e for e in logs if e["action"].startswith("convert")]


def test_threshold_allows_a_few_bad_values():
    frame = pd.DataFrame({"n": [str(i) for i in range(99)] + ["oops"]})
    out, logs = repair_types(frame, parse_threshold=0.95)
    assert out["n"].isna().sum() == 1
    assert logs[-1]["params"]["unparseable_to_missing"] == 1


def test_whitespace_trimmed():
    out, logs = repair_types(pd.DataFrame({"c": [" a", "b ", "c"]}))
    assert out["c"].tolist() == ["a", "b", "c"] and logs[0]["count"] == 2


def test_bad_threshold_rejected():
    with pytest.raises(ValueError, match="parse_threshold"):
        repair_types(pd.DataFrame({"a": [1]}), parse_threshold=0)
