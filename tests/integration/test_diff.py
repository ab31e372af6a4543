"""The changed-cell list through the API and a real worker, checked against the raw and cleaned files themselves."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from tests.integration.conftest import cleaned, csv, get

DUPLICATES = (10, 11)  # exact copies of row 9 (0-based): the cleaned table drops them


def dirty(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "order_id": [f"R{i:03d}" for i in range(n)],
        "qty": rng.integers(1, 20, n).astype(float),
        "price": [f"${v:,.2f}" for v in rng.uniform(900, 1500, n)],
        "city": rng.choice(["Oslo", "Stavanger", "Bergen"], n),
    }).astype(object)
    frame.loc[[3, 17, 40], "qty"] = None
    frame.loc[[5, 33], "city"] = "Stavangr"  # a typo of a value many times as common
    frame.loc[[8, 50], "city"] = "oslo "
    for copy in DUPLICATES:
        frame.iloc[copy] = frame.iloc[9]
    return frame


def _same(raw: str, clean: str) -> bool:
    """Equal as written, or the same number written another way (3.0 and 3)."""
    if raw == clean:
        return True
    try:
        return float(raw) == float(clean)
    except ValueError:
        return False


def _all_cells(client, dataset_id: str, limit: int, **query) -> list[dict]:
    cells, path = [], f"/dataset/{dataset_id}/diff?limit={limit}" + "".join(f"&{k}={v}" for k, v in query.items())
    while path:
        page = get(client, path).json
        cells += page["cells"]
        path = page["next"]
    return cells


def test_every_changed_cell_is_listed_with_its_step_and_nothing_else(client, run_worker, monkeypatch):
    monkeypatch.setattr("jobs.outputs.CHANGES_GROUP", 9)  # pages then span row groups of the stored list
    frame = dirty()
    dataset_id, status = cleaned(client, run_worker, csv(frame))
    assert status["status"] == "completed"
    raw = pd.read_csv(io.BytesIO(csv(frame)), dtype=str, keep_default_na=False)
    out = pd.read_csv(io.BytesIO(get(client, f"/dataset/{dataset_id}/cleaned").data), dtype=str,
                      keep_default_na=False)
    kept = [i for i in range(len(raw)) if i not in DUPLICATES]
    assert len(out) == len(kept)
    position = {row: n for n, row in enumerate(kept)}

    whole = get(client, f"/dataset/{dataset_id}/diff?limit=10000").json
    assert whole["total"] == whole["cells_changed"] == len(whole["cells"]) and whole["next"] is None
    assert _all_cells(client, dataset_id, 7) == whole["cells"]  # the pages, followed, are the whole list
    listed = {(c["row"] - 1, c["column"]): c for c in whole["cells"]}
    for (row, col), cell in listed.items():
        assert cell["cleaned_row"] - 1 == position[row], cell
        assert out.at[position[row], col] == (cell["after"] or ""), cell
        assert raw.at[row, col] == (cell["before"] or ""), cell
    for row in kept:  # every cell not listed is as it was
        for col in out.columns:
            if (row, col) not in listed:
                assert _same(raw.at[row, col], out.at[position[row], col]), (row, col)

    by_column = {col: [c for c in whole["cells"] if c["column"] == col] for col in frame.columns}
    assert not by_column["order_id"]
    assert {(c["kind"], c["step"]) for c in by_column["price"]} == {("changed", "types")}
    assert len(by_column["price"]) == len(kept) and by_column["price"][0]["rule"].startswith("convert_")
    assert sorted(c["row"] - 1 for c in by_column["qty"]) == [3, 17, 40]
    assert {(c["kind"], c["step"], c["before"]) for c in by_column["qty"]} == {("filled", "missing_values", None)}
    assert all(c["rule"].startswith("impute_") and c["why"] for c in by_column["qty"])
    city = {c["row"] - 1: c for c in by_column["city"]}
    assert city[5]["rule"] == city[33]["rule"] == "repair_typos" and city[5]["after"] == "Stavanger"
    assert {city[8]["after"], city[50]["after"]} == {"Oslo"}

    qty = get(client, f"/dataset/{dataset_id}/diff?column=qty&kind=filled").json
    assert qty["total"] == 3 and qty["cells"] == by_column["qty"]
    assert get(client, f"/dataset/{dataset_id}/diff?kind=cleared").json["total"] == 0


def test_the_csv_pages_and_bad_parameters(client, run_worker):
    dataset_id, _ = cleaned(client, run_worker, csv(dirty()))
    total = get(client, f"/dataset/{dataset_id}/diff").json["total"]
    first = get(client, f"/dataset/{dataset_id}/diff?format=csv&limit=5")
    assert first.status_code == 200 and first.mimetype == "text/csv"
    assert first.headers["X-Total-Count"] == str(total) and 'rel="next"' in first.headers["Link"]
    table = pd.read_csv(io.BytesIO(first.data), dtype=str, keep_default_na=False)
    assert list(table.columns) == ["row", "cleaned_row", "column", "before", "after", "kind", "step", "rule", "why"]
    assert table.to_dict("records") == [{k: "" if v is None else str(v) for k, v in c.items()}
                                        for c in get(client, f"/dataset/{dataset_id}/diff?limit=5").json["cells"]]
    last = get(client, f"/dataset/{dataset_id}/diff?format=csv&offset={total - 1}")
    assert "Link" not in last.headers and len(pd.read_csv(io.BytesIO(last.data))) == 1
    odd = get(client, f"/dataset/{dataset_id}/diff?limit=2&dataset_id=x&_external=1&_anchor=zz&_scheme=ftp")
    assert odd.status_code == 200 and odd.json["next"] == f"/dataset/{dataset_id}/diff?limit=2&user_id=feed&offset=2"
    for query in ("format=xml", "limit=0", "offset=-1", "kind=gone", "formulas=run"):
        bad = get(client, f"/dataset/{dataset_id}/diff?{query}")
        assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_parameter", query


def test_the_page_marks_the_changed_cells_of_its_preview(client, run_worker):
    dataset_id, _ = cleaned(client, run_worker, csv(dirty()))
    page = get(client, f"/dataset/{dataset_id}/view").get_data(as_text=True)
    preview = page[page.index('id="preview"'):page.index('id="plots"')]
    assert preview.count("<tr>") == 1 + 20  # the header and the first 20 rows
    out = pd.read_csv(io.BytesIO(get(client, f"/dataset/{dataset_id}/cleaned").data), dtype=str, keep_default_na=False)
    first = preview.split("<tr>")[2]
    assert all(f">{out.at[0, col]}</td>" in first for col in out.columns)  # written as the download writes it
    # Row 4 of the file (0-based 3) had no qty: filled, and the mark says what it was and why.
    filled = preview.split("<tr>")[1 + 4]
    assert 'class="cell-filled" title="Before: (missing)&#10;missing values: impute_' in filled
    assert preview.count('class="cell-changed"') >= 20  # every price was read from text with a currency sign
    assert page.count('<img class="thumb"') >= 2 and 'href="#column-1"' in page and 'id="column-1"' in page
    assert f"/dataset/{dataset_id}/diff?user_id=feed&amp;column=price" in page
