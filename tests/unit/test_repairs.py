"""Repairs of real dirty data: units, typos, entity dependencies, decimal slips, disguised missing values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.coerce import detect_roles, repair_types
from jobs.pipeline.decide import DecisionError, validate_decision
from jobs.pipeline.depend import find_dependencies, majority_fill, repair_dependencies
from jobs.pipeline.gross import repair_gross_errors
from jobs.pipeline.runner import PipelineOptions, run_pipeline
from jobs.pipeline.sentinels import find_disguised_missing
from jobs.pipeline.typos import typo_mapping
from jobs.pipeline.units import read_units

RNG = np.random.default_rng(7)


def _actions(logs: list[dict], column: str) -> list[str]:
    return [e["action"] for e in logs if e["column"] == column]


# -- numbers with units --------------------------------------------------------------------------------

def test_ounces_written_four_ways_become_one_number_column():
    frame = pd.DataFrame({"ounces": ["12.0 oz", "12.0 OZ.", "16.0 ounce", "12.0 oz. Alumi-Tek", "16 oz", None] * 5})
    out, logs = repair_types(frame)
    assert out["ounces"].tolist()[:6] == [12.0, 12.0, 16.0, 12.0, 16.0, None] or \
        out["ounces"].iloc[:5].tolist() == [12.0, 12.0, 16.0, 12.0, 16.0]
    (log,) = [e for e in logs if e["action"] == "convert_unit"]
    assert log["params"]["unit"] == "oz" and log["params"]["trailing_text_ignored"] == 5
    assert "unit oz" in log["message"]


def test_the_unit_reaches_the_statistics_and_the_summary():
    result = run_pipeline(pd.DataFrame({"ounces": ["12 oz", "16 oz", "12.0 OZ.", "24 ounce"] * 10,
                                        "abv": RNG.normal(0.06, 0.01, 40)}))
    assert result.summary["units"] == {"ounces": "oz"}
    assert result.statistics["columns"]["ounces"]["unit"] == "oz"


def test_units_of_one_dimension_are_converted_to_the_most_frequent():
    values = ["500 g"] * 6 + ["1.5 kg", "2 lb", "250 g"]
    numbers, evidence = read_units(pd.Series(values))
    assert evidence["unit"] == "g" and evidence["converted_from_other_units"] == 2
    assert numbers.iloc[6] == 1500.0 and numbers.iloc[7] == pytest.approx(907.18474)


def test_units_of_different_dimensions_are_reported_not_mixed():
    frame = pd.DataFrame({"size": ["1 kg", "2 kg", "3 l", "4 l", "5 kg"] * 4})
    out, logs = repair_types(frame)
    assert out["size"].tolist() == frame["size"].tolist()  # still the text it was
    (log,) = [e for e in logs if e["action"] == "mixed_units"]
    assert log["params"]["dimensions"] == ["mass", "volume"]


@pytest.mark.parametrize("values", [["12 Jan", "13 Jan", "14 Jan"], ["10 am", "11 am", "9 am"],
                                    ["5 ft 10 in", "6 ft 1 in", "5 ft 2 in"], ["3 apples", "2 pears", "4 plums"],
                                    ["1st-4th", "5th-6th", "7th-8th"]])
def test_words_after_numbers_that_are_not_one_unit_are_left_alone(values):
    assert read_units(pd.Series(values * 5)) is None


def test_a_count_word_is_the_unit_of_a_column_that_always_writes_it():
    numbers, evidence = read_units(pd.Series(["37 patients", "0 patients", "3x patients", "12 patients"] * 5))
    assert evidence["unit"] == "patients" and numbers.iloc[0] == 37 and np.isnan(numbers.iloc[2])


# -- typos ---------------------------------------------------------------------------------------------

def test_a_rare_misspelling_becomes_the_frequent_value():
    column = pd.Series(["acute care hospitals"] * 90 + ["critical access hospitals"] * 30
                       + ["acuxe care hospixals", "birminghxm"] + ["birmingham"] * 40)
    mapping, counts = typo_mapping(column)
    assert mapping == {"acuxe care hospixals": "acute care hospitals", "birminghxm": "birmingham"}
    out, logs = repair_types(pd.DataFrame({"kind": column}))
    assert "acuxe care hospixals" not in set(out["kind"]) and _actions(logs, "kind") == ["repair_typos"]


def test_a_word_the_column_uses_often_is_vocabulary_not_a_typo():
    # 'ak' (Alaska) appears in many rare values next to their 'al' (Alabama) twins: real, not slips.
    measures = [f"m-{i}" for i in range(20)]
    column = pd.Series([f"al_{m}" for m in measures] * 12 + [f"ak_{m}" for m in measures])
    assert typo_mapping(column)[0] == {}


def test_typos_never_touch_codes_or_numbers():
    zips = pd.Series(["35233"] * 50 + ["35234"] + ["36049"] * 50)
    assert typo_mapping(pd.Series(["ami-1"] * 50 + ["ami-2"]))[0] == {}  # a different number, not a typo
    assert typo_mapping(pd.Series(["37 patients"] * 30 + ["3x patients"]))[0] == {}
    out, logs = repair_types(pd.DataFrame({"zip": zips}))
    assert out["zip"].tolist() == zips.tolist() and "repair_typos" not in _actions(logs, "zip")


# -- entity consistency --------------------------------------------------------------------------------

def _breweries(n: int = 40) -> pd.DataFrame:
    ids = np.repeat(np.arange(n), 5)
    states = RNG.choice(["CA", "OR", "WA", "TX", "NY", "IL", "CO", "MI"], n)
    return pd.DataFrame({"brewery_id": [f"b{i}" for i in ids], "state": states[ids],
                         "style": RNG.choice(["IPA", "Lager", "Stout", "Porter"], len(ids)),
                         "abv": RNG.normal(0.06, 0.01, len(ids)).round(4)})


def test_a_key_repairs_its_minority_value_and_fills_its_gap():
    frame = _breweries()
    truth = frame["state"].copy()
    frame.loc[2, "state"] = "TX" if truth[2] != "TX" else "CA"
    frame.loc[7, "state"] = None
    roles, _ = detect_roles(frame)
    (rule,) = [r for r in find_dependencies(frame, roles) if r["dependent"] == "state"]
    assert rule["determinant"] == "brewery_id" and rule["confidence"] >= 0.9
    out, logs, _ = repair_dependencies(frame, roles)
    assert out["state"].tolist() == truth.tolist()
    repaired = [e for e in logs if e["action"] == "repair_from_dependency"]
    filled = [e for e in logs if e["action"] == "fill_from_dependency"]
    assert repaired[0]["count"] == 1 and filled[0]["count"] == 1
    assert repaired[0]["params"]["rules"][0]["determinant"] == "brewery_id" and repaired[0]["params"]["examples"]


def test_a_weak_majority_is_left_alone():
    frame = _breweries()
    frame.loc[[0, 1], "state"] = ["XX", "YY"]  # brewery 0 now holds 3 of 5 for its state: not two thirds of a clear group
    frame.loc[[5, 6], "state"] = "ZZ"  # brewery 1: the other value twice, the world varying
    roles, _ = detect_roles(frame)
    out, _, _ = repair_dependencies(frame, roles)
    assert out.loc[[0, 1, 5, 6], "state"].tolist() == ["XX", "YY", "ZZ", "ZZ"]


def test_a_measurement_or_a_yes_no_column_is_not_an_entity_key():
    n = 400
    weight = RNG.normal(7, 1, n).round(1)
    frame = pd.DataFrame({"weight": weight, "low": np.where(weight < 5.5, "low", "not low"),
                          "premie": RNG.choice(["premie", "full term"], n, p=[0.1, 0.9])})
    roles, _ = detect_roles(frame)
    assert find_dependencies(frame, roles) == []


def test_the_advisor_may_fill_from_a_found_dependency_only():
    frame = _breweries()
    frame.loc[[3, 12], "state"] = None
    ok = validate_decision({"action": "dependency", "params": {"by": "brewery_id"}}, "categorical", frame["state"],
                           list(frame.columns), determinants=["brewery_id"])
    assert ok["params"] == {"by": "brewery_id"}
    with pytest.raises(DecisionError, match="determine"):
        validate_decision({"action": "dependency", "params": {"by": "style"}}, "categorical", frame["state"],
                          list(frame.columns), determinants=["brewery_id"])
    filled = majority_fill(frame, "state", "brewery_id")
    assert filled.notna().all() and filled[3] == frame.loc[4, "state"]


# -- gross errors ----------------------------------------------------------------------------------------

def test_decimal_slips_are_divided_back_and_unusual_values_stay():
    price = RNG.normal(100, 10, 300).round(2)
    frame = pd.DataFrame({"price": price.copy(), "income": np.exp(RNG.normal(10, 1.2, 300)).round(0)})
    frame.loc[5, "price"] = price[5] * 100
    frame.loc[9, "price"] = price[9] * 10
    out, logs = repair_gross_errors(frame, ["price", "income"])
    assert out.loc[5, "price"] == pytest.approx(price[5]) and out.loc[9, "price"] == pytest.approx(price[9])
    assert out["income"].equals(frame["income"])  # a heavy tail is unusual, not wrong
    (log,) = logs
    assert log["action"] == "repair_decimal_shift" and log["count"] == 2


def test_no_slip_without_evidence():
    values = np.r_[RNG.integers(1, 12, 200), [4537, 6230]].astype(float)  # issue numbers: 4537 is no 4.537 slipped
    small = np.r_[RNG.normal(50, 3, 200).round(1), [5.1]]  # a tenth of the usual, no related column: kept
    out, logs = repair_gross_errors(pd.DataFrame({"issue": values}), ["issue"])
    assert logs == [] and out["issue"].equals(pd.Series(values, name="issue"))
    assert repair_gross_errors(pd.DataFrame({"x": small}), ["x"])[1] == []


# -- disguised missing values ------------------------------------------------------------------------------

def test_negative_sentinels_become_missing_and_top_codes_and_impossible_zeros_are_reported():
    n = 300
    frame = pd.DataFrame({"age": RNG.integers(20, 70, n).astype(float), "bmi": RNG.normal(32, 4, n).round(1),
                          "gain": np.where(RNG.random(n) < 0.8, 0, RNG.integers(100, 15000, n)).astype(float),
                          "rain": np.where(RNG.random(n) < 0.6, 0.0, RNG.random(n))})
    frame.loc[[3, 4, 5], "age"] = -999.0
    frame.loc[[6, 7], "bmi"] = 0.0
    frame.loc[[8, 9], "gain"] = 99999.0
    roles, _ = detect_roles(frame)
    out, logs = find_disguised_missing(frame, roles)
    assert out.loc[[3, 4, 5], "age"].isna().all() and (out.loc[[6, 7], "bmi"] == 0).all()  # zeros: reported
    assert (out["gain"] == 99999).sum() == 2 and out["rain"].equals(frame["rain"])
    assert {(e["column"], e["action"]) for e in logs} == {("age", "disguised_missing"), ("bmi", "possible_sentinel"),
                                                          ("gain", "possible_sentinel")}


def test_placeholder_words_are_reported_and_kept():
    frame = pd.DataFrame({"race": ["white", "black", "unknown", "asian"] * 10})
    out, logs = find_disguised_missing(frame, {"race": "categorical"})
    assert out.equals(frame) and logs[0]["action"] == "placeholder_kept" and logs[0]["count"] == 10


def test_the_pipeline_runs_every_repair_and_counts_filled_cells_as_imputed():
    frame = _breweries()
    frame.loc[7, "state"] = None
    result = run_pipeline(frame)
    assert result.frame.loc[7, "state"] == frame.loc[8, "state"]
    assert ((result.imputed["row"] == 7) & (result.imputed["action"] == "fill_from_dependency")).any()


def test_the_deep_report_lists_repairs_as_changes():
    frame = _breweries()
    frame.loc[7, "state"] = None
    report = run_pipeline(frame, PipelineOptions(mode="deep")).report
    assert any(c["action"] == "fill_from_dependency" and c["column"] == "state" for c in report["changed"])


def test_a_rule_too_loose_to_overrule_still_fills_gaps_its_groups_agree_on():
    # Sources copy each other's mistakes: the same wrong time twice in a flight's group. That rule may
    # not overrule a value, but a gap in a flight whose rows agree is filled.
    flights = np.repeat([f"AA-{i}" for i in range(30)], 6)
    times = np.repeat([f"{7 + i % 12:02d}:{(i * 7) % 60:02d}" for i in range(30)], 6).astype(object)
    frame = pd.DataFrame({"flight": flights, "sched": times.copy(), "src": np.tile(list("abcdef"), 30)})
    for group in range(0, 30, 5):  # a copied wrong value in every fifth flight
        frame.loc[[group * 6, group * 6 + 1], "sched"] = "23:59"
    frame.loc[[group * 6 + 5 for group in range(1, 30, 3)], "sched"] = None
    roles, _ = detect_roles(frame)
    (rule,) = [r for r in find_dependencies(frame, roles) if r["dependent"] == "sched"]
    assert not rule["overrules"] and rule["agreement"] >= 0.9
    out, _, _ = repair_dependencies(frame, roles)
    assert (out["sched"] == "23:59").sum() == 12  # values left as they were
    clear = [group * 6 + 5 for group in range(1, 30, 3) if group % 5]
    weak = [group * 6 + 5 for group in range(1, 30, 3) if not group % 5]  # 3 of 5 agree: no two thirds
    assert out.loc[clear, "sched"].tolist() == times[clear].tolist() and out.loc[weak, "sched"].isna().all()


def test_whole_numbers_under_a_key_name_are_a_key():
    frame = _breweries()
    frame["brewery_id"] = frame["brewery_id"].str[1:].astype(int)
    frame.loc[7, "state"] = None
    roles, _ = detect_roles(frame)
    assert roles["brewery_id"] == "numeric"
    out, _, rules = repair_dependencies(frame, roles)
    assert any(r["determinant"] == "brewery_id" for r in rules) and out.loc[7, "state"] == frame.loc[8, "state"]


def test_the_output_feature_is_never_repaired_or_blanked():
    frame = _breweries()
    frame["label"] = frame["state"]
    frame.loc[2, "label"] = "XX"  # a minority label in its brewery: a model's truth, not ours to overrule
    frame["y"] = RNG.normal(10, 1, len(frame)).round(2)
    frame.loc[[3, 4, 5], "y"] = -999.0
    out = run_pipeline(frame, PipelineOptions(target="label")).frame
    assert out.loc[2, "label"] == "XX"
    out = run_pipeline(frame, PipelineOptions(target="y")).frame
    assert (out["y"] == -999.0).sum() == 3


def test_no_decimal_slip_in_a_column_that_crosses_zero():
    temps = RNG.normal(8, 7, 400).round(2)
    temps[5] = 0.15
    out, logs = repair_gross_errors(pd.DataFrame({"temp": temps}), ["temp"])
    assert logs == [] and out.loc[5, "temp"] == 0.15


def test_one_stand_in_does_not_hide_another():
    ages = RNG.integers(20, 70, 300).astype(float)
    ages[[1, 2]], ages[[3, 4]] = -1.0, -9.0
    bmi = RNG.normal(32, 4, 300).round(1)
    bmi[[5, 6]], bmi[[7, 8]] = -999.0, 0.0
    out, logs = find_disguised_missing(pd.DataFrame({"age": ages, "bmi": bmi}), {"age": "numeric", "bmi": "numeric"})
    assert out.loc[[1, 2, 3, 4], "age"].isna().all() and out.loc[[5, 6], "bmi"].isna().all()
    assert (out.loc[[7, 8], "bmi"] == 0).all() and any(e["action"] == "possible_sentinel" for e in logs)


def test_a_nullable_integer_column_takes_a_fractional_mean():
    ages = pd.array(list(RNG.integers(20, 70, 60)) + [None, None], dtype="Int64")
    result = run_pipeline(pd.DataFrame({"age": ages, "id_": range(62)}))
    assert result.frame["age"].notna().all()


def test_units_with_thousands_separators_and_words_that_only_look_like_units():
    numbers, _ = read_units(pd.Series(["500 g"] * 8 + ["1,200 g", "2,500 g"]))
    assert numbers.iloc[8:].tolist() == [1200.0, 2500.0]
    assert read_units(pd.Series(["5 in stock", "3 in stock", "2 in stock"])) is None
    assert read_units(pd.Series(["16 oz can", "12 oz", "12 oz"]))[1]["trailing_text_ignored"] == 1


def test_real_neighbouring_names_are_not_typos():
    assert typo_mapping(pd.Series(["Iraq"] * 50 + ["Iran"] + ["Australia"] * 40 + ["Austria"]))[0] == {}


def test_a_short_name_seen_several_times_is_real_however_rare():
    names = pd.Series(["Dolly"] * 800 + ["Holly"] * 7 + ["acute care hospitals"] * 900 + ["acuxe care hospixals"] * 8)
    assert typo_mapping(names)[0] == {"acuxe care hospixals": "acute care hospitals"}
