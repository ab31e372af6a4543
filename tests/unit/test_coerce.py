"""Type repair: numbers stored as text, booleans, whitespace; evidence in the log."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.coerce import detect_roles, repair_types
from jobs.pipeline.numbers import parse_numbers


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
    convert = next(e for e in logs if e["action"] == "convert_numeric")  # also noted as a row counter
    assert convert["params"]["unparseable_to_missing"] == 1


def test_whitespace_trimmed():
    out, logs = repair_types(pd.DataFrame({"c": [" a", "b ", "c"]}))
    assert out["c"].tolist() == ["a", "b", "c"] and logs[0]["count"] == 2


def test_bad_threshold_rejected():
    with pytest.raises(ValueError, match="parse_threshold"):
        repair_types(pd.DataFrame({"a": [1]}), parse_threshold=0)


@pytest.mark.parametrize("values,expected", [
    (["3,5", "1.234,56", "-2,25", "7"], [3.5, 1234.56, -2.25, 7.0]),  # decimal comma, per column
    (["1,234", "12", "5,000.5"], [1234.0, 12.0, 5000.5]),  # US separators
])
def test_decimal_comma_decided_per_column(values, expected):
    assert parse_numbers(pd.Series(values))[0].tolist() == expected


def test_mixed_date_formats_become_datetimes():
    frame = pd.DataFrame({"when": ["2024-01-05", "13/02/2024", "Jan 5, 2024", "5 March 2023", None, "2024-01-06"]})
    out, logs = repair_types(frame, parse_threshold=0.8)
    assert pd.api.types.is_datetime64_any_dtype(out["when"])
    assert out["when"].iloc[1] == pd.Timestamp("2024-02-13")  # day first: 13 cannot be a month
    log = next(e for e in logs if e["action"] == "convert_datetime")
    assert log["params"]["dayfirst"] is True and "dates" in log["message"]


@pytest.mark.parametrize("values", [
    ["20240105", "20240106", "20240107"],  # numbers that happen to look like compact dates
    ["1", "2", "3.5"], ["1.5", "2.25", "3"],
])
def test_numbers_are_never_turned_into_dates(values):
    out, _ = repair_types(pd.DataFrame({"n": values}))
    assert pd.api.types.is_float_dtype(out["n"])


def test_leading_zero_codes_stay_text():
    out, logs = repair_types(pd.DataFrame({"zip": ["02134", "10001", "00501", "94105"]}))
    assert out["zip"].tolist() == ["02134", "10001", "00501", "94105"]
    assert not [e for e in logs if e["action"].startswith("convert")]


def test_category_variants_unified():
    frame = pd.DataFrame({"city": ["Paris", "paris", "PARIS ", "Paris", "London", "london", "London", "Rome"]})
    out, logs = repair_types(frame)
    assert out["city"].tolist() == ["Paris"] * 4 + ["London"] * 3 + ["Rome"]
    log = next(e for e in logs if e["action"] == "unify_category_variants")
    assert log["count"] == 3 and log["after"]["distinct"] == 3


def test_id_like_and_constant_columns_noted():
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)],
                          "uuid": [f"{i:08x}-aaaa-bbbb-cccc-{i:012x}" for i in range(30)],
                          "row": range(1, 31), "country": ["FR"] * 30, "amount": [float(i % 7) for i in range(30)]})
    out, _ = repair_types(frame)
    _, logs = detect_roles(out)
    notes = {(e["action"], e["column"]) for e in logs}
    assert {("detect_id_like", "customer_id"), ("detect_id_like", "uuid"), ("detect_id_like", "row"),
            ("detect_constant", "country")} <= notes
    assert not any(col == "amount" for _, col in notes)


def test_zero_padded_dates_are_still_dates():
    frame = pd.DataFrame({"d": ["05/01/2020", "17/02/2020", "01/03/2020", "09/12/2021"]})
    out, _ = repair_types(frame)
    assert out["d"].tolist()[1] == pd.Timestamp("2020-02-17")


def test_long_digit_ids_are_not_rounded_into_floats():
    frame = pd.DataFrame({"tweet": [f"12345678901234567{i}" for i in range(10)]})
    out, _ = repair_types(frame)
    assert out["tweet"].tolist()[0] == "123456789012345670"


def test_near_miss_is_logged_with_its_unparseable_values():
    values = [str(i) for i in range(94)] + ["n.v."] * 6
    out, logs = repair_types(pd.DataFrame({"score": values}))
    assert out["score"].tolist() == values
    miss = next(e for e in logs if e["action"] == "keep_text")
    assert miss["params"]["would_be"] == "numeric" and miss["params"]["unparseable_examples"] == ["n.v."]
    assert "94% parse as numbers, below the 95% threshold: kept as text" in miss["message"]
    assert "'n.v.' (6%)" in miss["message"]


@pytest.mark.parametrize("values,evidence", [
    (["(205) 555-1234", "205 555 9876", "+1 205.555.0000"] * 10, "separated groups"),
    (["0035-9157", "1537-6613", "0301-4738"] * 10, "separated groups"),
    (["08540", "99508", "35233", "10001"] * 10, "leading zeros"),
])
def test_codes_written_with_digits_are_never_numbers(values, evidence):
    out, _ = repair_types(pd.DataFrame({"c": values}))
    assert out["c"].tolist() == values
    roles, notes = detect_roles(out)
    assert roles["c"] == "code" and evidence in notes[0]["params"]["evidence"]


def test_a_phone_column_mixing_plain_and_international_numbers_stays_as_written():
    values = ["0365590131", "+47 70096565", "+47 69909145", "+4791234567", "22334455"] * 10
    out, _ = repair_types(pd.DataFrame({"phone": values, "delta": ["+12", "-3", "+7", "0", "+1"] * 10}))
    assert out["phone"].tolist() == values
    assert out["delta"].tolist() == [12, -3, 7, 0, 1] * 10  # signed small numbers are quantities, not phones


def test_a_phone_column_of_international_numbers_only_stays_as_written():
    """No plain digit string to measure: the code is still recognised by its name (this raised on NaN)."""
    values = [f"+47 {70000000 + 7919 * i}" for i in range(60)]
    out, logs = repair_types(pd.DataFrame({"phone_intl": values, "n": range(60)}))
    assert out["phone_intl"].tolist() == values
    assert not any(e["column"] == "phone_intl" and e["action"].startswith("convert_") for e in logs)


def test_numeric_codes_detected_from_values_and_names_but_quantities_are_not():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"zip": rng.integers(10000, 99999, 200), "provider_number": rng.integers(10000, 10100, 200),
                          "employee_no": rng.permutation(np.arange(3000, 3200)),
                          "salary": rng.integers(30, 99, 200) * 1000, "education_num": rng.integers(1, 16, 200),
                          "latitude": rng.uniform(-60, 70, 200), "price": rng.lognormal(3, 1, 200)})
    roles, _ = detect_roles(frame)
    assert roles == {"zip": "code", "provider_number": "code", "employee_no": "code", "salary": "numeric",
                     "education_num": "numeric", "latitude": "coordinate", "price": "numeric"}


def test_times_of_day_become_a_type():
    frame = pd.DataFrame({"dep": ["7:10 a.m.", "12:05 p.m.", "19:45", "12:00 a.m.", None]})
    out, logs = repair_types(frame)
    assert out["dep"].tolist()[:4] == ["07:10", "12:05", "19:45", "00:00"] and out["dep"].isna().iloc[4]
    assert any(e["action"] == "convert_time" for e in logs)
    assert detect_roles(out)[0]["dep"] == "time"


def test_dates_keep_their_own_representation_and_two_digit_years_are_the_past():
    frame = pd.DataFrame({"d": ["1/1/71", "4/2/15", "12/1/06", "3/15/99"] * 5})
    out, logs = repair_types(frame)
    convert = next(e for e in logs if e["action"] == "convert_datetime")
    assert out["d"].iloc[0] == pd.Timestamp("1971-01-01") and convert["params"]["format"] == "%-m/%-d/%y"
    assert out["d"].dt.strftime(convert["params"]["format"]).tolist() == frame["d"].tolist()


def test_roles_given_by_the_user_win():
    frame = pd.DataFrame({"n": ["1", "2", "3", "4"] * 5, "when": ["2024-01-0%d" % (i % 9 + 1) for i in range(20)],
                          "x": ["1", "2", "oops", "4"] * 5})
    out, logs = repair_types(frame, roles={"n": "code", "when": "text", "x": "numeric"})
    assert out["n"].tolist()[:2] == ["1", "2"] and out["when"].dtype != "datetime64[ns]"
    assert out["x"].isna().sum() == 5 and next(e for e in logs if e["column"] == "x")["params"]["role"]
    roles, _ = detect_roles(out, {"n": "code", "when": "text"})
    assert roles["n"] == "code" and roles["when"] == "text"


def test_trimming_never_arms_a_formula():
    out, _ = repair_types(pd.DataFrame({"c": [" =1+1", "  @SUM(A1) ", " -5 ", " plain "]}))
    assert out["c"].tolist() == [" =1+1", "  @SUM(A1)", "-5", "plain"]
