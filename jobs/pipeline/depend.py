"""Entity consistency: approximate functional dependencies (key → attribute, code → name, ZIP → city), repaired by
the majority of each group, with every dependency that speaks for a cell voting on it."""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import Levenshtein

from .entries import entry, plain, short
from .profile import name_words

SAMPLE_ROWS = 10_000  # rows the dependencies are discovered on (hash/groupby work, no pairwise rows)
SCREEN_ROWS, SCREEN_CONFIDENCE = 2_000, 0.6  # a pair agreeing less than this on 2,000 sampled rows is dropped
MAX_DETERMINANTS, MAX_DEPENDENTS = 30, 60  # candidate pairs are capped at their product
MIN_CONFIDENCE = 0.9  # rows (in groups of two or more) agreeing with their group's majority
# A rule too loose to overrule values may still fill gaps: its groups' majorities must hold out like a fill of a
# category does (the held-out 90% of jobs/pipeline/choose.py), over a weaker overall confidence.
FILL_CONFIDENCE, FILL_AGREEMENT = 0.8, 0.9
MAX_REPEATED = 0.5  # of the minority cells, those whose value varies (see _varies)
VARIES = 0.1  # of its group, for a minority value held twice to count as varying
MIN_LIFT = 0.2  # of what the column's own most frequent value leaves unexplained, explained by the key
MIN_KEYS = 8  # groups of two or more: a yes/no or a three-way type is a correlate, not an entity key
MIN_SUPPORT = 0.3  # of the rows fall in groups of two or more: a near-unique key proves nothing
MAJORITY = 2 / 3  # of a group's present values, for its majority to speak
MIN_GROUP = 3  # rows agreeing on the majority before it may overrule a value (two may fill a gap)
SKIP_ROLES = frozenset({"id", "constant"})
MEASURES = frozenset({"numeric", "coordinate"})  # a measurement is not an entity key: never a determinant
KEY_WORDS = frozenset({"id", "key", "code", "no", "nr", "number", "num"})
KEY_EDIT_SHARE = 0.4  # edits per character for a key value to count as a damaged spelling of another


def _codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(uniques)


class _Coded(dict):
    """Each column's (codes, values), factorized once for all the rules that use it."""

    def __init__(self, frame: pd.DataFrame):
        super().__init__()
        self.frame = frame

    def __missing__(self, col: str) -> tuple[np.ndarray, pd.Index]:
        self[col] = found = _codes(self.frame[col])
        return found


def _varies(count: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A minority value held by two rows and a tenth of its group is the world varying, not a slip
    (two random errors agree by chance in a big group, rarely in a small one)."""
    return (count >= 2) & (count >= VARIES * group)


def _groups(x: np.ndarray, y: np.ndarray, ny: int) -> dict[str, np.ndarray]:
    """Per determinant value present with the dependent: value, present count, top count, top y, and the cells
    of minority values that vary (see _varies)."""
    both = (x >= 0) & (y >= 0)
    keys, counts = np.unique(x[both] * ny + y[both], return_counts=True)
    if not len(keys):
        empty = np.array([], dtype=np.int64)
        return {"x": empty, "totals": empty, "tops": empty, "top_y": empty, "repeated": empty}
    xs = keys // ny
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    totals = np.add.reduceat(counts, starts)
    tops = np.maximum.reduceat(counts, starts)
    at_top = counts == np.repeat(tops, sizes)
    first = np.flatnonzero(at_top)
    first = first[np.r_[True, xs[first][1:] != xs[first][:-1]]]  # a tie never reaches MAJORITY: any top will do
    varied = ~at_top & _varies(counts, np.repeat(totals, sizes))
    repeated = np.add.reduceat(np.where(varied, counts, 0), starts)
    return {"x": xs[starts], "totals": totals, "tops": tops, "top_y": keys[first] % ny, "repeated": repeated}


def _majorities(x: np.ndarray, y: np.ndarray, ny: int, least: int = 2) -> dict[str, np.ndarray]:
    """Per determinant code: the majority y of its group where the group speaks (two thirds of at least `least`
    present values; else -1), the rows agreeing on it and the group's present values: tables indexed by x."""
    groups = _groups(x, y, ny)
    speaks = (groups["tops"] >= MAJORITY * groups["totals"]) & (groups["totals"] >= least)
    size = int(x.max()) + 1 if len(x) and x.max() >= 0 else 0
    tables = {"value": np.full(size, -1, dtype=np.int64), "agree": np.zeros(size, dtype=np.int64),
              "present": np.zeros(size, dtype=np.int64)}
    tables["value"][groups["x"][speaks]] = groups["top_y"][speaks]
    tables["agree"][groups["x"][speaks]] = groups["tops"][speaks]
    tables["present"][groups["x"]] = groups["totals"]
    return tables


def _named_key(series: pd.Series, name: str) -> bool:
    """Whole numbers under a key's name ('brewery_id', 'store_no'): a short code read as a number, not a measure."""
    words = name_words(name)
    values = series.dropna()
    return bool(words) and words[-1] in KEY_WORDS and pd.api.types.is_numeric_dtype(series) and \
        bool((values == values.round()).all())


def _candidates(frame: pd.DataFrame, roles: dict[str, str]) -> tuple[list[str], list[str]]:
    usable = [c for c in frame.columns if str(c) in roles and roles[str(c)] not in SKIP_ROLES
              and frame[c].notna().sum() >= 2 * MIN_GROUP]  # columns without a role (the target) stay out
    distinct = {c: frame[c].nunique() for c in usable}
    present = {c: frame[c].notna().sum() for c in usable}
    determinants = sorted((c for c in usable if 2 <= distinct[c] <= 0.5 * present[c] and
                           (roles.get(str(c)) not in MEASURES or _named_key(frame[c], str(c)))), key=lambda c: distinct[c],
                          reverse=True)[:MAX_DETERMINANTS]
    # Few distinct values first: attributes (a state, a type) before near-unique columns, whatever the order.
    dependents = sorted((c for c in usable if distinct[c] >= 2), key=lambda c: distinct[c])[:MAX_DEPENDENTS]
    return determinants, dependents


def _promising(x: np.ndarray, y: np.ndarray, ny: int) -> bool:
    """A first look on the sample's first rows: most pairs are nowhere near a dependency (cheap to rule out)."""
    groups = _groups(x, y, ny)
    grouped = groups["totals"] >= 2
    support = groups["totals"][grouped].sum()
    return not support or groups["tops"][grouped].sum() >= SCREEN_CONFIDENCE * support


def find_dependencies(frame: pd.DataFrame, roles: dict[str, str]) -> list[dict]:
    """Approximate dependencies X → Y found on a bounded sample, strongest first, as plain data."""
    sample = frame if len(frame) <= SAMPLE_ROWS else frame.sample(SAMPLE_ROWS, random_state=0)
    determinants, dependents = _candidates(sample, roles)
    coded = {c: _codes(sample[c]) for c in set(determinants) | set(dependents)}
    found = []
    for x_col in determinants:
        x, x_values = coded[x_col]
        for y_col in dependents:
            y, y_values = coded[y_col]
            if y_col == x_col or len(y_values) > 1.5 * len(x_values) + 10 or \
                    not _promising(x[:SCREEN_ROWS], y[:SCREEN_ROWS], len(y_values)):
                continue
            groups = _groups(x, y, len(y_values))
            totals, tops = groups["totals"], groups["tops"]
            grouped = totals >= 2
            rows = int(totals.sum())
            support = int(totals[grouped].sum())
            if not rows or support < MIN_SUPPORT * rows or grouped.sum() < MIN_KEYS:
                continue
            confidence = float(tops[grouped].sum() / support)
            both = (x >= 0) & (y >= 0)
            baseline = float(np.bincount(y[both]).max() / both.sum())
            lift = (confidence - baseline) / (1 - baseline) if baseline < 1 else 0.0
            # Errors are independent: the same other value twice in one group is the world varying
            # (a brewery's 12 and 16 oz cans, Athens GA and Athens OH), not a slip.
            judged = totals >= MIN_GROUP
            minority = int((totals - tops)[judged].sum())
            repeated = float(groups["repeated"][judged].sum() / minority) if minority else 0.0
            # Held out: how often a speaking group's majority is the value of one of its own cells.
            speaks = (tops >= MAJORITY * totals) & (tops >= MIN_GROUP)
            agreement = float(tops[speaks].sum() / totals[speaks].sum()) if speaks.any() else 0.0
            overrules = confidence >= MIN_CONFIDENCE and repeated <= MAX_REPEATED
            fills = confidence >= FILL_CONFIDENCE and agreement >= FILL_AGREEMENT
            if lift >= MIN_LIFT and (overrules or fills):
                found.append({"determinant": str(x_col), "dependent": str(y_col), "confidence": round(confidence, 4),
                              "lift": round(lift, 4), "repeated_minority": round(repeated, 4),
                              "agreement": round(agreement, 4), "support_rows": support, "groups": int(grouped.sum()),
                              "overrules": overrules})
    return sorted(found, key=lambda d: (-d["confidence"], -d["support_rows"]))


def _votes(codes: _Coded, rule: dict, y: np.ndarray, values: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(rows, proposed y) from each group of the rule whose majority may speak for its rows."""
    x, _ = codes[rule["determinant"]]
    ny = len(values)
    tables = _majorities(x, y, ny)
    rows = np.flatnonzero(x >= 0)
    proposed, backing, own = tables["value"][x[rows]], tables["agree"][x[rows]], y[rows]
    # The row's own value: how often it occurs in its group (twice is the world varying, not a slip).
    pair = np.where(own >= 0, x[rows] * ny + own, -1)
    _, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
    varies = (own >= 0) & _varies(counts[inverse], tables["present"][x[rows]])
    # Two agreeing values may fill a gap or confirm a value; overruling one takes MIN_GROUP, and a value
    # that varies in its group only yields when it is a damaged spelling of the majority (a copied typo).
    keep = (proposed >= 0) & ((own < 0) | (proposed == own) | (backing >= MIN_GROUP) & rule["overrules"])
    rows, proposed, own, varies = rows[keep], proposed[keep], own[keep], varies[keep]
    twice = np.flatnonzero((proposed != own) & varies)
    if len(twice):
        text = values.dtype == object or pd.api.types.is_string_dtype(values)
        drop = twice[~(_slips(own[twice], proposed[twice], values) if text else np.zeros(len(twice), bool))]
        keep = np.ones(len(rows), dtype=bool)
        keep[drop] = False
        rows, proposed = rows[keep], proposed[keep]
    return rows, proposed


def _slips(own: np.ndarray, proposed: np.ndarray, values: pd.Index) -> np.ndarray:
    """Which present values of a key column look like a slip of the proposed one (a few edits apart).

    A key ('flight', 'brewery_id') names its own entity: another entity's majority is no evidence that
    it is wrong, unless the value is a damaged spelling of the majority's ('1xx19' for '10019').
    """
    text = values.astype("str")
    result = np.zeros(len(own), dtype=bool)
    for i, (a, b) in enumerate(zip(own, proposed)):
        if a < 0:
            result[i] = True
            continue
        left, right = text[a], text[b]
        result[i] = Levenshtein.distance(left, right) <= max(1, round(KEY_EDIT_SHARE * len(right)))
    return result


def _one_entity(coded: _Coded, rows: np.ndarray, missing: np.ndarray, keys: set[str]) -> np.ndarray:
    """Rows whose overruled values gather in one entity of another key: that entity differs (the one Alaska
    hospital among Alabama's), its values are not slips. Gaps are not protected."""
    protect = np.zeros(len(rows), dtype=bool)
    present = ~missing[rows]
    for key in keys:
        codes, _ = coded[key]
        here = codes[rows]
        changed = np.bincount(here[present & (here >= 0)], minlength=codes.max() + 1)
        sizes = np.bincount(codes[codes >= 0], minlength=codes.max() + 1)
        systematic = (changed >= MIN_GROUP) & (changed >= 0.5 * sizes)
        protect |= present & (here >= 0) & systematic[np.maximum(here, 0)]
    return protect


def _applicable(frame: pd.DataFrame, roles: dict[str, str], rules: list[dict]) -> list[dict]:
    """A plan's rules this frame can take, once each: between two of its columns that discovery could pair (a
    role not skipped; no measurement as the key unless named like one)."""
    usable, seen = [], set()
    for rule in rules:
        x, y = rule["determinant"], rule["dependent"]
        if x == y or (x, y) in seen or any(c not in frame.columns or roles.get(c) in (None, *SKIP_ROLES) for c in (x, y)) \
                or roles[x] in MEASURES and not _named_key(frame[x], x):
            continue
        seen.add((x, y))
        usable.append(rule)
    return usable


def repair_dependencies(frame: pd.DataFrame, roles: dict[str, str], rules: list[dict] | None = None
                        ) -> tuple[pd.DataFrame, list[dict], list[dict]]:
    """Fill and repair values from their groups' majorities; returns (frame, log entries, the rules used).
    `rules` (an applied plan's) replace discovery: those between two of the frame's columns with a role are used.

    Every rule into a column votes on each of its cells (a vote for the cell's own value counts too);
    a cell changes only when one other value has more votes than its own value and than any rival.
    A change resting on a determinant that is itself being changed in that row (key ↔ name both
    disagreeing) stands only if it has the wider margin; on a tie neither is made.
    """
    rules = find_dependencies(frame, roles) if rules is None else _applicable(frame, roles, rules)
    keys = {r["determinant"] for r in rules if r["overrules"]}  # entity keys: what their rules say may overrule
    planned, codes = {}, _Coded(frame)
    for y_col in dict.fromkeys(r["dependent"] for r in rules):
        mine = [r for r in rules if r["dependent"] == y_col]
        y, y_values = codes[y_col]
        change = _planned(codes, y_col, mine, y, y_values, keys)
        if not change.empty:
            planned[y_col] = (mine, y, y_values, change)
    margins = {col: dict(zip(p[3]["row"], p[3]["margin"])) for col, p in planned.items()}
    out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
    logs: list[dict] = []
    for y_col, (mine, y, y_values, change) in planned.items():
        keep = [all(margins.get(x, {}).get(row, -1) < margin for x in voters)
                for row, margin, voters in zip(change["row"], change["margin"], change["voters"])]
        change = change[np.array(keep, dtype=bool)]
        if change.empty:
            continue
        target = change["row"].to_numpy()
        was_missing = y[target] < 0
        new_values = y_values.take(change["value"].to_numpy())
        column = out[y_col].copy()
        column.iloc[target] = new_values.to_numpy()
        out[y_col] = column
        logs.extend(_entries(frame, y_col, mine, target, was_missing, new_values))
    return out, logs, rules


def _planned(codes: _Coded, y_col: str, rules: list[dict], y: np.ndarray, y_values: pd.Index,
             keys: set[str]) -> pd.DataFrame:
    """The changes the rules into one column vote for: row, value, margin over the own value, voters."""
    parts = [_votes(codes, rule, y, y_values) for rule in rules]
    raw = pd.DataFrame({"row": np.concatenate([p[0] for p in parts]),
                        "value": np.concatenate([p[1] for p in parts]),
                        "rule": np.concatenate([np.full(len(p[0]), r["determinant"], dtype=object)
                                                for p, r in zip(parts, rules)])})
    votes = raw.groupby(["row", "value"]).agg(n=("rule", "size"), voters=("rule", tuple)).reset_index()
    votes["own"] = votes["value"].to_numpy() == y[votes["row"].to_numpy()]
    per_row = votes.sort_values(["row", "n"], ascending=[True, False])
    best = per_row.drop_duplicates("row")
    second = per_row[per_row.duplicated("row")].drop_duplicates("row").set_index("row")["n"]
    own = votes[votes["own"]].set_index("row")["n"]
    best = best.assign(margin=best["n"] - best["row"].map(own).fillna(0).to_numpy(),
                       rival=best["row"].map(second).fillna(0).to_numpy())
    change = best[~best["own"] & (best["margin"] > 0) & (best["n"] > best["rival"])]
    if y_col in keys:
        change = change[_slips(y[change["row"].to_numpy()], change["value"].to_numpy(), y_values)]
    return change[~_one_entity(codes, change["row"].to_numpy(), y < 0, keys - {y_col})]


def _entries(frame: pd.DataFrame, col: str, rules: list[dict], rows: np.ndarray, was_missing: np.ndarray,
             new_values: pd.Index) -> list[dict]:
    """One entry for the repaired values and one for the filled gaps of a column, each naming its rules."""
    shown = [{k: r[k] for k in ("determinant", "confidence", "support_rows", "groups")} for r in rules]
    keys = [r["determinant"] for r in rules]
    out = []
    for action, mask in (("repair_from_dependency", ~was_missing), ("fill_from_dependency", was_missing)):
        if not mask.any():
            continue
        idx = rows[mask][:5]
        examples = [{"row": int(i), "key": {k: plain(frame[k].iloc[i]) for k in keys[:2]},
                     "from": plain(frame[col].iloc[i]), "to": plain(v)}
                    for i, v in zip(idx, new_values[mask][:5])]
        what = "values that disagreed with" if action == "repair_from_dependency" else "missing values from"
        out.append(entry(action, column=col, count=int(mask.sum()),
                         params={"rules": shown, "majority": round(MAJORITY, 4), "min_group": MIN_GROUP,
                                 "examples": examples, "rows": [int(i) for i in rows[mask][:100]]},
                         message=f"{int(mask.sum()):,} {what} the majority of their group under "
                                 f"{', '.join(short(k, 60) for k in keys[:3])} → {short(col, 60)} "
                                 f"(confidence {rules[0]['confidence']:.0%}) were set to that majority."))
    return out


def majority_fill(frame: pd.DataFrame, col: str, by: str) -> pd.Series:
    """The column with each gap filled from its `by` group's majority (the advisor's 'dependency' action).

    The dependency step has already filled every gap two agreeing rows vouch for; on the advisor's word that
    the rule holds, a group's only present value fills its gaps too.
    """
    y, values = _codes(frame[col])
    x, _ = _codes(frame[by])
    lookup = _majorities(x, y, len(values), least=1)["value"]
    gaps = np.flatnonzero((y < 0) & (x >= 0))
    fill = lookup[x[gaps]]
    gaps, fill = gaps[fill >= 0], fill[fill >= 0]
    out = frame[col].copy()
    if len(gaps):
        out.iloc[gaps] = values.take(fill).to_numpy()
    return out
