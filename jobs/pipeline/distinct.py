"""Work on distinct values: a pure function of a cell is computed once per distinct value and mapped back."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd


def per_value(series: pd.Series, func: Callable[[object], object]) -> pd.Series:
    """`func` of each non-missing cell, called once per distinct value (a category column of 100,000 rows
    and 30 spellings makes 30 calls); missing cells stay missing. The dtype is kept."""
    codes, uniques = pd.factorize(series)  # missing → -1, which picks the None appended last
    values = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(values[codes], index=series.index, dtype=series.dtype, name=series.name)


def remap(series: pd.Series, mapping: dict) -> pd.Series:
    """Cells found in `mapping` replaced by their value, the others kept; several times faster than
    Series.replace(dict) on Arrow text."""
    return per_value(series, lambda v: mapping.get(v, v))
