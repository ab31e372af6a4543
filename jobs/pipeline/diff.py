"""What cleaning changed, cell by cell: the value as read and as cleaned, the step that changed it and why."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .entries import MAX_PROSE, is_number, plain
from .export import csv_table

DIFF_COLUMNS = ["row", "cleaned_row", "column", "before", "after", "kind", "step", "rule", "why"]
KINDS = ["filled", "changed", "cleared"]
MAX_CELLS = 1_000_000  # a run that rewrites every cell of a big file lists the first million (and says so)
TYPE_REPAIRS = ("trim_whitespace", "unify_category_variants", "repair_typos")  # with convert_*: what changes cells
JUDGED = ("dependencies", "gross_errors")  # steps that repair cells one by one on the file's evidence
MAX_JUDGED = 100_000
LABEL = pa.dictionary(pa.int32(), pa.string())  # the repeated columns: a few distinct values each
SCHEMA = pa.schema([("row", pa.int64()), ("cleaned_row", pa.int64()), ("column", LABEL), ("before", pa.string()),
                    ("after", pa.string()), ("kind", LABEL), ("step", LABEL), ("rule", LABEL), ("why", LABEL)])


@dataclass
class Trail:
    """Which rows of the input the current frame holds, and which cells each later step changed (input rows)."""
    origin: np.ndarray  # input row position of each current row, increasing
    marks: list[tuple[str, np.ndarray, str, str, str]] = field(default_factory=list)  # column, rows, step, rule, why
    # The cells judged one by one (JUDGED steps) and their new values (column → input row → value, JSON-safe): an
    # exported plan script lists them, the rules it cannot restate (up to MAX_JUDGED; `complete` says if all).
    judged: dict[str, dict[int, object]] = field(default_factory=dict)
    complete: bool = True

    @classmethod
    def start(cls, frame: pd.DataFrame) -> Trail:
        return cls(origin=np.arange(len(frame)))

    def keep(self, frame: pd.DataFrame) -> pd.DataFrame:
        """After a step that dropped rows (keeping the labels of the rest): follow them, then number afresh."""
        self.origin = self.origin[frame.index.to_numpy()]
        return frame.reset_index(drop=True)

    def record(self, step: str, before: pd.DataFrame, after: pd.DataFrame, logs: list[dict]) -> None:
        """The cells of the columns `logs` name whose value the step changed (`after` keeps `before`'s rows)."""
        by_column: dict[str, list[dict]] = {}
        for log in logs:
            if log["column"] in before.columns and log["column"] in after.columns and log["count"]:
                by_column.setdefault(log["column"], []).append(log)
        for col, entries in by_column.items():
            rows = np.flatnonzero(differs(before[col], after[col]))
            if len(rows):
                self.marks.append((col, self.origin[rows], step, *_rule(entries)))
            if step in JUDGED and len(rows):
                room = MAX_JUDGED - sum(map(len, self.judged.values()))
                self.complete = self.complete and len(rows) <= room
                values = after[col].iloc[rows[:room]].tolist()
                self.judged.setdefault(str(col), {}).update(
                    zip(self.origin[rows[:room]].tolist(), (plain(v, digits=None) for v in values)))


def _rule(entries: list[dict]) -> tuple[str, str]:
    return "+".join(dict.fromkeys(e["action"] for e in entries)), " ".join(e["message"] for e in entries)[:MAX_PROSE]


def differs(before: pd.Series, after: pd.Series, formats: dict[str, str] | None = None) -> np.ndarray:
    """Per position: one side missing and not the other, or both present and unequal."""
    return _compare(before, after, formats)[0]


def _compare(before: pd.Series, after: pd.Series, formats: dict[str, str] | None = None
             ) -> tuple[np.ndarray, pa.Array | None, pa.Array | None]:
    """`differs`, and both sides as the CSV writes them when they were compared as text: numbers with numbers,
    everything else as written, so '3.50' read as 3.5 is no change but '1,200' → 1200 is."""
    if is_number(before) and is_number(after):
        gone, there = before.isna().to_numpy(), after.isna().to_numpy()
        kind = "int64" if pd.api.types.is_integer_dtype(before) and pd.api.types.is_integer_dtype(after) \
            else float  # exact beyond 2**53
        b, a = before.to_numpy(dtype=kind, na_value=0), after.to_numpy(dtype=kind, na_value=0)
        return (gone != there) | (~gone & ~there & (b != a)), None, None
    shown_before, shown_after = _text(before), _text(after, formats)
    # 'True' read as a boolean is written 'true': the same value (yes → true is a conversion, and listed).
    read = pc.utf8_lower(shown_before) if pd.api.types.is_bool_dtype(after) else shown_before
    unequal = pc.fill_null(pc.not_equal(read, shown_after), False).to_numpy(zero_copy_only=False)
    out = pc.xor(pc.is_null(shown_before), pc.is_null(shown_after)).to_numpy(zero_copy_only=False) | unequal
    if is_number(after) and unequal.any():  # a number read from text is the same number written plainly
        where = np.flatnonzero(unequal)
        read = pd.to_numeric(shown_before.take(where).to_pandas(), errors="coerce").to_numpy(float)
        out[where[read == after.to_numpy(dtype=float, na_value=np.nan)[where]]] = False
    return out, shown_before, shown_after


def _text(series: pd.Series, formats: dict[str, str] | None = None) -> pa.Array:
    """The values as the CSV download writes them (missing ones null)."""
    name = str(series.name)
    table = pa.table({name: pa.array(series.reset_index(drop=True), from_pandas=True)})
    return csv_table(table, {name: formats[name]} if formats and name in formats else None
                     ).column(0).combine_chunks().cast(pa.string())


def cell_changes(raw: pd.DataFrame, cleaned: pd.DataFrame, trail: Trail, type_logs: list[dict],
                 formats: dict[str, str] | None = None) -> tuple[pa.Table, int]:
    """Every cell of `cleaned` whose value differs from the input's (columns both have), with the last step that
    changed it; cells no later step touched were changed by the type repair. Returns the first MAX_CELLS (in
    column order, then row; a table of SCHEMA) and how many there are in all."""
    repairs = _type_repairs(type_logs)
    parts, total, room = [], 0, MAX_CELLS
    for col in cleaned.columns:
        if col not in raw.columns:
            continue
        before = raw[col] if len(trail.origin) == len(raw) else raw[col].iloc[trail.origin]  # else rows went
        after = cleaned[col]
        mask, shown_before, shown_after = _compare(before, after, formats)
        rows = np.flatnonzero(mask)
        total += len(rows)
        rows = rows[:room]
        if not len(rows):
            continue
        room -= len(rows)
        if shown_before is None:  # compared as numbers: written only where they differ
            shown_before, shown_after = _text(before.iloc[rows]), _text(after.iloc[rows], formats)
        else:
            shown_before, shown_after = shown_before.take(rows), shown_after.take(rows)
        labels, codes = _type_rules(repairs.get(col, []), shown_before, shown_after)
        inputs = trail.origin[rows]
        for marked, changed, step, rule, why in trail.marks:  # later marks win: their steps ran later
            if marked == col:
                hit = np.searchsorted(inputs, changed)
                hit = hit[(hit < len(inputs)) & (inputs[np.minimum(hit, len(inputs) - 1)] == changed)]
                codes[hit] = len(labels)
                labels.append((step, rule, why))
        kind = np.where(pc.is_null(shown_before).to_numpy(zero_copy_only=False), 0,
                        np.where(pc.is_null(shown_after).to_numpy(zero_copy_only=False), 2, 1))
        steps, rules, whys = (pa.array(list(part)) for part in zip(*labels))
        parts.append(pa.table([
            pa.array(inputs + 1), pa.array(rows + 1), _labels(np.zeros(len(rows), np.int32), pa.array([str(col)])),
            shown_before, shown_after, _labels(kind, pa.array(KINDS)),
            _labels(codes, steps), _labels(codes, rules), _labels(codes, whys)], schema=SCHEMA))
    return (pa.concat_tables(parts) if parts else SCHEMA.empty_table()), total


def _labels(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), values)


def _type_repairs(logs: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for log in logs:
        if log["column"] is not None and (log["action"].startswith("convert_") or log["action"] in TYPE_REPAIRS):
            found.setdefault(log["column"], []).append(log)
    return found


def _type_rules(entries: list[dict], before: pa.Array, after: pa.Array) -> tuple[list[tuple], np.ndarray]:
    """Labels (step, rule, why) and a label per cell for the type repair's changes: a typo's mapping, else
    trimmed whitespace, else the column's conversion (all of a column's repairs when none of these tells)."""
    if not entries:
        return [("types", "repair_types", "Read as the column's type.")], np.zeros(len(before), np.int32)
    labels = [("types", *_rule(entries))]
    codes = np.zeros(len(before), np.int32)
    if len(entries) < 2:
        return labels, codes
    by_action = {e["action"]: e for e in entries}
    others = [e for e in entries if e["action"] not in ("trim_whitespace", "repair_typos")]
    if others:
        labels.append(("types", others[0]["action"], others[0]["message"][:MAX_PROSE]))
        codes[:] = len(labels) - 1
    trimmed = pc.utf8_trim_whitespace(before) if pa.types.is_string(before.type) else before
    if "trim_whitespace" in by_action:
        labels.append(("types", "trim_whitespace", by_action["trim_whitespace"]["message"][:MAX_PROSE]))
        codes[pc.fill_null(pc.equal(trimmed, after), False).to_numpy(zero_copy_only=False)] = len(labels) - 1
    typos = by_action.get("repair_typos", {}).get("params", {}).get("mapping", {})
    if typos:
        labels.append(("types", "repair_typos", by_action["repair_typos"]["message"][:MAX_PROSE]))
        codes[pc.is_in(trimmed, value_set=pa.array(list(typos))).to_numpy(zero_copy_only=False)] = len(labels) - 1
    return labels, codes
