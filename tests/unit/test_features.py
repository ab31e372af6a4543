"""Feature engineering: encodings, scalings, logs and feature descriptions."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.features import engineer_features


def _mixed(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "row_id": np.arange(n),
        "price": rng.lognormal(3, 1, n),
        "size": rng.normal(50, 10, n),
        "colour": rng.choice(["red", "green", "blue"], n),
        "city": rng.choice([f"c{i:02d}" for i in range(30)], n),
        "member": rng.random(n) > 0.5,
        "joined": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        "country": "FR",
        "y": rng.normal(size=n),
    })


def _by_name(descriptions: list[dict]) -> dict[str, dict]:
    return {d["name"]: d for d in descriptions}


def test_standard_scaling_gives_mean_zero_std_one_and_records_parameters():
    frame = pd.DataFrame({"size": [10.0, 20.0, 30.0, 40.0, 50.0]})
    out, logs, desc = engineer_features(frame, roles={"size": "numeric"})
    assert out["size"].mean() == pytest.approx(0.0, abs=1e-12)
    assert np.std(out["size"]) == pytest.approx(1.0)
    assert out["size"].tolist() == pytest.approx([-1.414214, -0.707107, 0.0, 0.707107, 1.414214], abs=1e-6)
    assert desc[0]["transform"] == "standard_scale"
    assert desc[0]["params"]["mean"] == 30.0 and desc[0]["params"]["std"] == pytest.approx(14.142136)
    assert logs[0]["action"] == "scale_standard" and logs[0]["count"] == 1


def test_minmax_scaling_maps_to_unit_interval():
    frame = pd.DataFrame({"size": [2.0, 4.0, 6.0, 10.0]})
    out, logs, desc = engineer_features(frame, roles={"size": "numeric"}, scaling="minmax")
    assert out["size"].tolist() == [0.0, 0.25, 0.5, 1.0]
    assert desc[0]["params"]["min"] == 2.0 and desc[0]["params"]["max"] == 10.0
    assert desc[0]["transform"] == "minmax_scale" and logs[0]["action"] == "scale_minmax"


def test_scaling_none_keeps_numbers_and_logs_nothing_for_them():
    frame = pd.DataFrame({"size": [3.0, 1.0, 2.0]})
    out, logs, desc = engineer_features(frame, roles={"size": "numeric"}, scaling="none")
    assert out["size"].tolist() == [3.0, 1.0, 2.0]
    assert logs == [] and desc[0]["transform"] == "identity"


def test_skewed_positive_column_is_log_transformed_then_scaled():
    price = pd.Series(np.random.default_rng(1).lognormal(3, 1.2, 2000))
    out, logs, desc = engineer_features(pd.DataFrame({"price": price}))
    assert list(out.columns) == ["log1p_price"]
    logged = np.log1p(price)
    expected = (logged - logged.mean()) / logged.std(ddof=0)
    np.testing.assert_allclose(out["log1p_price"], expected)
    assert logs[0]["action"] == "log_transform" and logs[0]["params"]["skew"] > 1.0
    assert desc[0]["transform"] == "log1p+standard_scale" and desc[0]["params"]["log1p"] is True
    assert desc[0]["description"].startswith("log1p of price, then standardised (mean ")


def test_skewed_column_with_zero_or_negatives_is_not_logged_and_skew_limit_is_respected():
    skewed = np.random.default_rng(2).exponential(5, 1000)
    with_zero = pd.DataFrame({"v": np.append(skewed, 0.0)})
    out, logs, _ = engineer_features(with_zero, roles={"v": "numeric"})
    assert list(out.columns) == ["v"] and logs[0]["action"] == "scale_standard"
    out, _, _ = engineer_features(pd.DataFrame({"v": skewed + 1}), roles={"v": "numeric"}, skew_limit=50.0)
    assert list(out.columns) == ["v"]


def test_one_hot_levels_sorted_int8_summing_to_one_and_missing_level():
    frame = pd.DataFrame({"colour": ["red", "blue", None, "red", "green"]})
    out, logs, desc = engineer_features(frame, roles={"colour": "categorical"})
    assert list(out.columns) == ["colour=blue", "colour=green", "colour=missing", "colour=red"]
    assert (out.dtypes == np.int8).all()
    assert out.sum(axis=1).tolist() == [1] * 5
    assert out["colour=red"].tolist() == [1, 0, 0, 1, 0]
    assert out["colour=missing"].tolist() == [0, 0, 1, 0, 0]
    assert logs[0]["action"] == "one_hot" and logs[0]["count"] == 4
    assert {d["transform"] for d in desc} == {"one_hot"}
    assert _by_name(desc)["colour=red"]["params"] == {"level": "red",
                                                      "levels": ["blue", "green", "missing", "red"]}


def test_many_levels_get_frequency_encoding():
    frame = pd.DataFrame({"city": ["a", "a", "b", "c", "a", "b", "d", None]})
    out, logs, desc = engineer_features(frame, roles={"city": "categorical"}, onehot_max=3)
    assert list(out.columns) == ["city_freq"]
    assert out["city_freq"].tolist() == [0.375, 0.375, 0.25, 0.125, 0.375, 0.25, 0.125, 0.125]
    assert logs[0]["action"] == "frequency_encode" and logs[0]["count"] == 1
    params = desc[0]["params"]
    assert desc[0]["transform"] == "frequency"
    assert params["frequencies"] == {"a": 0.375, "b": 0.25, "c": 0.125, "d": 0.125, "missing": 0.125}
    assert params["levels"] == 5 and params["truncated"] is False


def test_frequency_table_is_capped_at_fifty_levels():
    frame = pd.DataFrame({"code": [f"k{i}" for i in range(80)] * 2 + ["k0"]})  # equal shares would be constant
    _, _, desc = engineer_features(frame, roles={"code": "categorical"})
    assert len(desc[0]["params"]["frequencies"]) == 50 and desc[0]["params"]["truncated"] is True


def test_date_parts_with_hour_only_when_times_present():
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-02-29", "2023-12-31"]),
                          "at": pd.to_datetime(["2024-02-29 13:45", "2023-12-31 00:00"])})
    out, logs, desc = engineer_features(frame, roles={"day": "datetime", "at": "datetime"})
    assert list(out.columns) == ["day_year", "day_month", "day_day", "day_dayofweek",
                                 "at_year", "at_month", "at_day", "at_dayofweek", "at_hour"]
    assert out["day_year"].tolist() == [2024, 2023] and out["day_month"].tolist() == [2, 12]
    assert out["day_day"].tolist() == [29, 31] and out["day_dayofweek"].tolist() == [3, 6]
    assert out["at_hour"].tolist() == [13, 0]
    assert [e["count"] for e in logs] == [4, 5] and {e["action"] for e in logs} == {"date_parts"}
    assert {d["transform"] for d in desc} == {"date_part"}


def test_booleans_become_zero_one_integers():
    frame = pd.DataFrame({"member": [True, False, True], "answer": ["yes", "no", "no"]})
    out, logs, desc = engineer_features(frame, roles={"answer": "boolean"})
    assert out["member"].tolist() == [1, 0, 1] and out["member"].dtype == np.int8
    assert out["answer"].tolist() == [1, 0, 0]
    assert [e["action"] for e in logs] == ["bool_to_int", "bool_to_int"]
    assert desc[1]["params"]["mapping"] == {"no": 0, "yes": 1}


def test_free_text_becomes_its_length():
    frame = pd.DataFrame({"note": ["abc", "", "héllo wörld", None]})
    out, logs, desc = engineer_features(frame, roles={"note": "text"})
    assert list(out.columns) == ["note_length"]
    assert out["note_length"].iloc[:3].tolist() == [3, 0, 11] and np.isnan(out["note_length"].iloc[3])
    assert logs[0]["action"] == "text_length" and desc[0]["transform"] == "length"


def test_id_and_constant_columns_are_dropped_and_logged():
    out, logs, desc = engineer_features(_mixed(200), target="y")
    assert "row_id" not in out.columns and "country" not in out.columns
    actions = {e["column"]: (e["action"], e["count"]) for e in logs}
    assert actions["row_id"] == ("drop_id_like", 0) and actions["country"] == ("drop_constant", 0)
    assert not any(d["source"] in (["row_id"], ["country"]) for d in desc)


def test_roles_are_computed_when_missing_and_given_roles_win():
    frame = _mixed(200)
    out, _, _ = engineer_features(frame, target="y")
    assert {"colour=blue", "colour=green", "colour=red", "city_freq", "member", "joined_year"} <= set(out.columns)
    assert "log1p_price" in out.columns and "size" in out.columns
    out, _, _ = engineer_features(frame, target="y", roles={"size": "id", "colour": "text"})
    assert "size" not in out.columns and "colour_length" in out.columns


def test_target_kept_unchanged_and_last():
    frame = _mixed(100)
    frame["label"] = np.where(frame["size"] > 50, "big", "small")
    out, logs, desc = engineer_features(frame, target="label")
    assert out.columns[-1] == "label"
    pd.testing.assert_series_equal(out["label"], frame["label"])
    out, _, _ = engineer_features(frame.astype({"label": "category"}), target="label")
    assert out["label"].dtype == "category" and out["label"].tolist() == frame["label"].tolist()
    assert "y" in out.columns and out["y"].mean() == pytest.approx(0.0, abs=1e-9)
    assert all(e["column"] != "label" for e in logs)
    assert desc[-1]["kind"] == "output" and desc[-1]["transform"] == "identity"


def test_target_kept_even_when_it_looks_like_an_id_or_is_skewed():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "id": [1, 2, 3, 4]})
    out, _, _ = engineer_features(frame, target="id")
    assert list(out.columns) == ["x", "id"] and out["id"].tolist() == [1, 2, 3, 4]


def test_input_frame_is_not_mutated():
    frame = _mixed(300)
    frame.loc[3, "size"] = np.nan
    snapshot = frame.copy(deep=True)
    engineer_features(frame, target="y", scaling="minmax")
    pd.testing.assert_frame_equal(frame, snapshot)


def test_descriptions_cover_every_output_column_once_and_logs_are_json_safe():
    out, logs, desc = engineer_features(_mixed(500), target="y")
    assert [d["name"] for d in desc] == list(out.columns)
    assert [d["kind"] for d in desc].count("output") == 1 and desc[-1]["name"] == "y"
    assert all(d["kind"] == "input" for d in desc[:-1])
    assert all(set(d) == {"name", "kind", "source", "transform", "description", "params"} for d in desc)
    produced = {}
    for d in desc[:-1]:
        produced[d["source"][0]] = produced.get(d["source"][0], 0) + 1
    logged = {e["column"]: e["count"] for e in logs if e["count"]}
    assert logged == produced
    assert len({e["column"] for e in logs}) == len(logs) == 8  # every source column but the target, once
    json.dumps(logs, allow_nan=False)
    json.dumps(desc, allow_nan=False)


def test_numeric_missing_stays_missing():
    frame = pd.DataFrame({"v": [1.0, np.nan, 3.0]})
    out, _, desc = engineer_features(frame, roles={"v": "numeric"})
    assert out["v"].iloc[0] == pytest.approx(-1.0) and np.isnan(out["v"].iloc[1])
    assert out["v"].iloc[2] == pytest.approx(1.0) and desc[0]["params"]["mean"] == 2.0


def test_invalid_parameters_raise_clear_errors():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"scaling must be 'standard', 'minmax' or 'none'; got 'x'"):
        engineer_features(frame, scaling="x")
    with pytest.raises(ValueError, match=r"target 'nope' is not a column"):
        engineer_features(frame, target="nope")
    with pytest.raises(ValueError, match="onehot_max"):
        engineer_features(frame, onehot_max=-1)
    with pytest.raises(ValueError, match="skew_limit"):
        engineer_features(frame, skew_limit=float("nan"))
    with pytest.raises(ValueError, match="roles must be one of"):
        engineer_features(frame, roles={"a": "weird"})


def test_empty_frames():
    out, logs, desc = engineer_features(pd.DataFrame())
    assert out.shape == (0, 0) and logs == [] and desc == []
    out, logs, desc = engineer_features(pd.DataFrame({"a": pd.Series([], dtype=float), "y": []}), target="y")
    assert list(out.columns) == ["y"] and logs[0]["action"] == "drop_constant"


def test_single_row_has_zero_spread_without_errors():
    frame = pd.DataFrame({"a": [5.0], "b": ["x"], "y": [1]})
    out, _, desc = engineer_features(frame, target="y", roles={"a": "numeric", "b": "categorical"})
    assert out["a"].tolist() == [0.0] and out["b=x"].tolist() == [1] and out["y"].tolist() == [1]
    out, _, _ = engineer_features(frame, target="y", roles={"a": "numeric", "b": "categorical"}, scaling="minmax")
    assert out["a"].tolist() == [0.0]


def test_all_missing_column_is_dropped_or_stays_missing_when_forced_numeric():
    frame = pd.DataFrame({"gone": [np.nan] * 4, "v": [1.0, 2.0, 3.0, 4.0]})
    out, logs, _ = engineer_features(frame)
    assert list(out.columns) == ["v"] and logs[0] == {**logs[0], "column": "gone", "action": "drop_constant"}
    out, _, desc = engineer_features(frame, roles={"gone": "numeric"})
    assert out["gone"].isna().all() and desc[0]["params"]["mean"] is None
    json.dumps(desc, allow_nan=False)


def test_wide_frame_and_unicode_names():
    wide = pd.DataFrame(np.random.default_rng(3).normal(size=(40, 300)), columns=[f"c{i}" for i in range(300)])
    out, logs, desc = engineer_features(wide)
    assert out.shape == (40, 300) and len(logs) == 300 and len(desc) == 300
    np.testing.assert_allclose(out.mean(), 0.0, atol=1e-12)
    frame = pd.DataFrame({"prix €": [1.0, 2.0, 3.0], "ville": ["Zürich", "東京", "東京"], "日付": pd.to_datetime(
        ["2024-01-01", "2024-05-02", "2024-12-31"])})
    out, _, desc = engineer_features(frame, roles={"prix €": "numeric", "ville": "categorical"})
    # one-hot names are slugs (lower case); 日付_year is 2024 on every row, so it is dropped
    assert list(out.columns) == ["prix €", "ville=zürich", "ville=東京", "日付_month", "日付_day", "日付_dayofweek"]
    assert out["ville=東京"].tolist() == [0, 1, 1]
    json.dumps(desc, ensure_ascii=False)


def test_index_is_kept_and_name_clashes_get_suffixes():
    frame = pd.DataFrame({"x_year": [1.0, 2.0], "x": pd.to_datetime(["2020-01-01", "2021-01-01"])}, index=[7, 9])
    out, _, desc = engineer_features(frame, roles={"x_year": "numeric"}, scaling="none")
    assert list(out.index) == [7, 9]
    assert list(out.columns)[:2] == ["x_year", "x_year_2"] and out["x_year_2"].tolist() == [2020, 2021]
    assert [d["name"] for d in desc] == list(out.columns)


# Roles extended by issue 10: codes, coordinates, times of day; safe names; constant derived features.

def test_zip_code_is_encoded_as_categories_never_scaled_logged_or_measured():
    rng = np.random.default_rng(4)
    zips = rng.choice([99508, 35203, 8540, 10001, 60614], 200)
    out, logs, desc = engineer_features(pd.DataFrame({"zip": zips}), roles={"zip": "code"})
    assert "zip" not in out.columns and not any(c.startswith("log1p_") or c.endswith("_length") for c in out.columns)
    assert list(out.columns) == ["zip=10001", "zip=35203", "zip=60614", "zip=8540", "zip=99508"]
    assert (out.dtypes == np.int8).all() and out["zip=99508"].tolist() == (zips == 99508).astype(int).tolist()
    assert logs[0]["action"] == "one_hot" and logs[0]["params"]["role"] == "code"
    assert {d["transform"] for d in desc} == {"one_hot"}
    many = pd.DataFrame({"zip": rng.choice(np.arange(10000, 10040), 400)})
    out, logs, _ = engineer_features(many, roles={"zip": "code"})
    assert list(out.columns) == ["zip_freq"] and logs[0]["action"] == "frequency_encode"


def test_float_code_with_gaps_keeps_whole_number_levels():
    frame = pd.DataFrame({"zip": [8540.0, np.nan, 8540.0, 99508.0, 99508.0, 8540.0]})
    out, _, desc = engineer_features(frame, roles={"zip": "code"})
    assert list(out.columns) == ["zip=8540", "zip=99508", "zip=missing"]
    assert _by_name(desc)["zip=8540"]["params"]["level"] == "8540"


def test_phone_column_makes_no_length_feature_and_near_unique_codes_are_dropped():
    phones = ["(205) 555-0101", "(205) 555-0102", "(907) 555-0199"] * 20
    out, logs, _ = engineer_features(pd.DataFrame({"phone": phones}), roles={"phone": "code"})
    assert not any(c.endswith("_length") for c in out.columns)
    assert list(out.columns) == ["phone=205_555_0101", "phone=205_555_0102", "phone=907_555_0199"]
    unique = pd.DataFrame({"phone": [f"(205) 555-{i:04d}" for i in range(100)],
                           "employee_no": np.arange(5000, 5100)[::-1], "size": np.linspace(1, 2, 100)})
    out, logs, desc = engineer_features(unique, roles={"phone": "code", "employee_no": "code"})
    assert list(out.columns) == ["size"]
    dropped = {e["column"]: e for e in logs if e["action"] == "drop_near_unique_code"}
    assert set(dropped) == {"phone", "employee_no"} and dropped["phone"]["count"] == 0
    assert dropped["employee_no"]["params"]["unique_share"] == 1.0
    assert [d["source"] for d in desc] == [["size"]]


def test_length_features_only_for_free_text():
    words = [f"w{i} " * (i % 7 + 1) for i in range(60)]
    frame = pd.DataFrame({"notes": words, "sku": [f"SKU-{i % 5:05d}" for i in range(60)],
                          "kind": ["long name a", "b"] * 30, "ref": [f"R{i:03d}" for i in range(60)]})
    out, _, _ = engineer_features(frame, roles={"notes": "text", "sku": "code", "kind": "categorical", "ref": "id"})
    assert [c for c in out.columns if c.endswith("_length")] == ["notes_length"]


def test_coordinates_are_scaled_but_never_log_transformed():
    lat = pd.Series(np.random.default_rng(5).lognormal(1, 1, 500))  # skewed and positive, like a cluster of airports
    out, logs, desc = engineer_features(pd.DataFrame({"lat": lat}), roles={"lat": "coordinate"})
    assert list(out.columns) == ["lat"] and desc[0]["params"]["log1p"] is False
    np.testing.assert_allclose(out["lat"], (lat - lat.mean()) / lat.std(ddof=0))
    assert logs[0]["action"] == "scale_standard"
    out, _, _ = engineer_features(pd.DataFrame({"lat": lat}), roles={"lat": "coordinate"}, scaling="minmax")
    assert out["lat"].min() == 0.0 and out["lat"].max() == 1.0


def test_time_of_day_becomes_minutes_since_midnight():
    frame = pd.DataFrame({"at": ["07:10", "19:45:30", None, "7:10 p.m.", "25:00", "00:00"]})
    out, logs, desc = engineer_features(frame, roles={"at": "time"}, scaling="none")
    assert list(out.columns) == ["at_minutes"]
    np.testing.assert_allclose(out["at_minutes"], [430, 1185.5, np.nan, 1150, np.nan, 0])
    assert logs[0]["action"] == "time_minutes" and logs[0]["params"]["unparsed"] == 1
    assert desc[0]["transform"] == "minutes"
    out, logs, desc = engineer_features(frame, roles={"at": "time"})
    assert out["at_minutes"].mean() == pytest.approx(0.0, abs=1e-12) and out["at_minutes"].isna().sum() == 2
    assert desc[0]["transform"] == "minutes+standard_scale" and desc[0]["params"]["mean"] == pytest.approx(691.375)
    json.dumps(logs, allow_nan=False)


def test_one_hot_names_are_safe_slugs_and_keep_the_level_in_params():
    notes = ["Left at door, signed", "left-at-door  signed!", "", "'quoted' = \"yes\"", "!!!", "Left at door, signed"]
    out, logs, desc = engineer_features(pd.DataFrame({"notes": notes}), roles={"notes": "categorical"})
    names = list(out.columns)
    assert names == ["notes=blank", "notes=blank_2", "notes=quoted_yes", "notes=left_at_door_signed",
                     "notes=left_at_door_signed_2"]
    for name in names:
        assert not any(ch in name.split("=", 1)[1] for ch in ",; '\"=")
    assert _by_name(desc)["notes=left_at_door_signed"]["params"]["level"] == "Left at door, signed"
    assert _by_name(desc)["notes=blank"]["params"]["level"] == ""
    assert out["notes=left_at_door_signed"].tolist() == [1, 0, 0, 0, 0, 1]
    assert logs[0]["params"]["levels"][0] == ""  # the log keeps the original levels


def test_constant_derived_features_are_dropped_with_a_log_entry():
    frame = pd.DataFrame({"day": pd.to_datetime(["2023-01-05", "2023-03-05", "2023-07-05"]),
                          "note": ["abc", "xyz", "foo"], "y": [1, 1, 1]})
    out, logs, desc = engineer_features(frame, target="y", roles={"note": "text"})
    assert list(out.columns) == ["day_month", "day_dayofweek", "y"]  # same year and day everywhere; same length
    assert out["y"].tolist() == [1, 1, 1]  # the target is never dropped
    drops = {e["params"]["feature"]: e for e in logs if e["action"] == "drop_constant_feature"}
    assert set(drops) == {"day_year", "day_day", "note_length"}
    assert drops["day_year"]["params"]["value"] == 2023 and drops["day_year"]["column"] == "day"
    assert "2023" in drops["day_year"]["message"]
    parts = next(e for e in logs if e["action"] == "date_parts")
    assert parts["count"] == 2 and parts["params"]["dropped_constant"] == ["day_year", "day_day"]
    assert [d["name"] for d in desc] == list(out.columns)
    json.dumps(logs, allow_nan=False)


def test_one_hot_that_is_all_one_is_dropped_but_varying_levels_stay():
    frame = pd.DataFrame({"only": ["a", "a", "a"], "two": ["a", "b", "b"]})
    out, logs, _ = engineer_features(frame, roles={"only": "categorical", "two": "categorical"})
    assert list(out.columns) == ["two=a", "two=b"]
    assert [e["action"] for e in logs] == ["one_hot", "drop_constant_feature", "one_hot"]
    assert logs[0]["count"] == 0 and logs[1]["params"] == {"feature": "only=a", "value": 1, "transform": "one_hot"}


def test_extended_roles_are_accepted_and_unknown_ones_listed():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    for role in ("code", "coordinate", "time"):
        engineer_features(frame, roles={"a": role})
    with pytest.raises(ValueError, match=r"roles must be one of id, code, constant, numeric, coordinate, boolean, "
                                         r"datetime, time, categorical, text; got \{'a': 'zip'\}"):
        engineer_features(frame, roles={"a": "zip"})
