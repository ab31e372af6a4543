"""Typos in categorical text: a rare spelling a few edits from a much more frequent value of the column becomes it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import re

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from .distinct import remap
from .entries import entry, short

RARE = 2  # occurrences at most: a spelling seen more often is somebody's real value (unless COPIED)
RATIO = 10  # the value it becomes is at least this many times more frequent
# A spelling seen more often than RARE: beside a value 100x as common, ten characters or more, edits under 15%
# ('acuxe care hospixals' 8 times; never 'Holly' 7 times beside 'Dolly', both real storms).
COPIED_RATIO, COPIED_LENGTH, COPIED_EDITS = 100, 10, 0.15
MIN_LENGTH = 5  # short values (ak/al, LHR/LHU, Iran/Iraq) are too close to one another to judge by spelling
EDIT_SHARE = 0.25  # edits allowed per character of the frequent value (at least one)
MAX_FREQUENT, MAX_RARE = 500, 5000  # bounded work on columns with many distinct values
VOCABULARY = 5  # other rows a word of a rare value may appear in and still be a slip (beyond: the column's own word)


_TOKEN = re.compile(r"[^\W_]+")


def _digits(values: pd.Index) -> np.ndarray:
    return values.str.replace(r"\D+", "", regex=True).to_numpy()


def _near_digit(rare: str, frequent: str) -> bool:
    """Whether an edit touches or borders a digit: '3x patients' may have been '37 patients'."""
    for _, i, j in Levenshtein.editops(rare, frequent):
        around = rare[max(0, i - 1):i + 2] + frequent[max(0, j - 1):j + 2]
        if any(ch.isdigit() for ch in around):
            return True
    return False


def _token_rows(counts: pd.Series) -> dict[str, int]:
    """Rows each word of the column appears in: a word seen often is vocabulary ('ak' in 'ak_hf-1'), not a slip."""
    words = pd.Series(counts.index.str.lower().map(lambda v: set(_TOKEN.findall(v))), index=counts.index)
    exploded = words.explode().dropna()
    rows = pd.Series(counts.reindex(exploded.index).to_numpy(), index=exploded.to_numpy())
    return rows.groupby(level=0).sum().to_dict()


def typo_mapping(series: pd.Series) -> tuple[dict[str, str], dict[str, int]]:
    """{rare spelling: frequent value} and the counts, for a text column; empty when nothing qualifies.

    A rare value maps only to its single nearest frequent value (a tie is no evidence), and only when
    both carry the same digits: 'ami-1' is not a typo of 'ami-2'.
    """
    counts = series.dropna().astype("str").value_counts()
    # A slip copied a few times is still rare beside a value a hundred times as common (8 × 'acuxe care
    # hospixals' beside 968 × 'acute care hospitals').
    copied = int(counts.iloc[0] / COPIED_RATIO) if len(counts) else 0
    rare = counts[(counts <= max(RARE, copied)) & (counts.index.str.len() >= MIN_LENGTH)].head(MAX_RARE)
    frequent = counts[(counts >= RATIO) & (counts.index.str.len() >= MIN_LENGTH)].head(MAX_FREQUENT)
    if rare.empty or frequent.empty:
        return {}, {}
    distances = cdist(list(rare.index), list(frequent.index), scorer=Levenshtein.distance, workers=1)
    # Edits allowed by the shorter of the two: 'Austria' is two insertions from 'Australia', too many for 7 letters.
    shorter = np.minimum(rare.index.str.len().to_numpy()[:, None], frequent.index.str.len().to_numpy()[None, :])
    limits = np.maximum(1, (EDIT_SHARE * shorter).astype(int))
    rare_digits, frequent_digits, sizes = _digits(rare.index), _digits(frequent.index), frequent.to_numpy()
    rows_of = _token_rows(counts)
    mapping = {}
    for i, (value, n) in enumerate(rare.items()):
        same = np.flatnonzero(frequent_digits == rare_digits[i])
        if not len(same):
            continue
        row = distances[i, same]
        nearest = same[row == row.min()]
        j = nearest[0]
        copied = n > RARE  # seen more than RARE times: only a long value a few edits off is still a slip
        if len(nearest) != 1 or distances[i, j] > limits[i, j] or sizes[j] < (COPIED_RATIO if copied else RATIO) * n \
                or copied and (len(value) < COPIED_LENGTH or distances[i, j] > COPIED_EDITS * len(value)):
            continue
        target = frequent.index[j]
        new_words = set(_TOKEN.findall(value.lower())) - set(_TOKEN.findall(target.lower()))
        if _near_digit(value, target) or any(rows_of.get(w, 0) - n > VOCABULARY for w in new_words):
            continue
        mapping[value] = target
    return mapping, {k: int(counts[k]) for k in mapping}


def repair_typos(series: pd.Series, col: str, known: dict[str, str] | None = None) -> tuple[pd.Series, dict] | None:
    """The column with its typos replaced and the log entry, or None when there are none. `known` (a plan's
    mapping) is applied instead of finding typos afresh."""
    if known is None:
        mapping, counts = typo_mapping(series)
    else:
        found = series.value_counts()
        mapping = {k: v for k, v in known.items() if k in found.index}
        counts = {k: int(found[k]) for k in mapping}
    if not mapping:
        return None
    new = remap(series, mapping)
    changed = sum(counts.values())
    examples = [{"from": short(k), "to": short(v), "count": counts[k]} for k, v in list(mapping.items())[:10]]
    first = examples[0]
    return new, entry("repair_typos", column=col, count=changed, source="heuristic" if known is None else "plan",
                      params={"values_mapped": len(mapping), "examples": examples, "mapping": mapping,
                              "max_rare_count": RARE,
                              "frequency_ratio": RATIO, "edit_share": EDIT_SHARE},
                      message=f"{len(mapping)} rare spellings a few edits from a value at least {RATIO}× as frequent "
                              f"were replaced by it ({changed:,} cells), e.g. {first['from']!r} → {first['to']!r}.")
