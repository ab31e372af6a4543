"""Mixed-format dates: decided on distinct values, parsed per format, day/month order per separator."""
from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.pipeline.dates import parse_dates

FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%b %d, %Y", "%m/%d/%Y")


def _written(days: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[pd.Series, np.ndarray]:
    which = rng.choice(len(FORMATS), len(days), p=[0.55, 0.15, 0.15, 0.15])
    text = np.empty(len(days), dtype=object)
    for k, fmt in enumerate(FORMATS):
        text[which == k] = days[which == k].strftime(fmt)
    return pd.Series(text), which


def test_four_formats_over_thousands_of_distinct_days_parse_exactly():
    rng = np.random.default_rng(3)
    days = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 5000, 20_000), unit="D")
    text, _ = _written(days, rng)
    parsed, evidence = parse_dates(text)
    assert (parsed.to_numpy() == days.to_numpy()).all()  # 05.06.2015 is 5 June, 06/05/2015 is 5 June too
    assert evidence["format"] == "%Y-%m-%d"  # the format most rows use, though not most distinct spellings


def test_dotted_dates_are_day_first_and_slashed_follow_their_own_evidence():
    text = pd.Series(["05.06.2022", "07.08.2021", "06/05/2022", "12/31/2021"])
    parsed, _ = parse_dates(text)
    assert list(parsed.dt.strftime("%Y-%m-%d")) == ["2022-06-05", "2021-08-07", "2022-06-05", "2021-12-31"]


def test_a_format_none_of_ours_fits_is_still_read():
    text = pd.Series(["5 March, 2019", "Mar. 8, 2019", "2019-03-09"])  # by a guessed format, by dateutil
    parsed, _ = parse_dates(text)
    assert list(parsed.dt.day) == [5, 8, 9]


def test_bare_numbers_are_never_dates():
    parsed, _ = parse_dates(pd.Series(["12345", "20190305x", "7"]))
    assert parsed.isna().all()


def test_a_format_pandas_guesses_wrongly_is_found_in_our_list():
    # pandas guesses '%Y-%m-%dT%H:%M:%S%z', which writes no 'Z' for naive times: the column keeps its own form.
    _, evidence = parse_dates(pd.Series(["2013-01-01T06:00:00Z", "2013-01-01T07:00:00Z"]))
    assert evidence["format"] == "%Y-%m-%dT%H:%M:%SZ"
