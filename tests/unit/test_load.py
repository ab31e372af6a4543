"""Load step: format, encoding and delimiter detection; missing tokens; bad files."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from jobs.pipeline.load import (FileInfo, FormatError, LimitError, Limits, LoadError, detect_delimiter, detect_encoding,
                                inspect, load_step, read_frame)


def write(tmp_path, name, content, mode="w", **kw):
    path = tmp_path / name
    (path.write_text(content, **kw) if mode == "w" else path.write_bytes(content))
    return path


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_detected(delim):
    text = delim.join(["a", "b", "c"]) + "\n" + delim.join(["1", "x,y" if delim != "," else "2", "3"]) + "\n"
    assert detect_delimiter(text) == delim


def test_quoted_commas_do_not_fool_semicolon_detection():
    text = 'name;note\n"Smith, J";"a, b, c"\n"Doe, A";"d, e"\n'
    assert detect_delimiter(text) == ";"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "utf-8-sig", "cp1252"])
def test_encodings_read_back(tmp_path, encoding):
    path = write(tmp_path, "e.csv", "city,n\nZürich,1\nSão Paulo,2\nKraków,3\n", encoding=encoding)
    info = inspect(path, "e.csv")
    frame = read_frame(path, info)
    assert list(frame["city"]) == ["Zürich", "São Paulo", "Kraków"]


def test_utf8_bom_detected():
    assert detect_encoding("\ufeffa,b\n".encode("utf-8-sig")) == "utf-8-sig"


def test_binary_refused():
    with pytest.raises(LoadError, match="binary"):
        detect_encoding(b"\x89PNG\r\n\x1a\n\x00\x00\x00")


def test_missing_tokens_become_na(tmp_path):
    path = write(tmp_path, "m.csv", "a,b\n1,x\n?,N/A\n-,null\n4,None\n")
    frame, logs = load_step(path, inspect(path, "m.csv"))
    assert frame["a"].isna().sum() == 2 and frame["b"].isna().sum() == 3
    assert logs[0]["action"] == "load" and logs[0]["after"]["missing_cells"] == 5


@pytest.mark.parametrize("name,writer", [
    ("d.json", lambda p, f: p.write_text(f.to_json(orient="records"))),
    ("d.json", lambda p, f: p.write_text(json.dumps({"data": json.loads(f.to_json(orient="records"))}))),
    ("d.jsonl", lambda p, f: p.write_text(f.to_json(orient="records", lines=True))),
    ("lines.json", lambda p, f: p.write_text(f.to_json(orient="records", lines=True))),
    ("d.xlsx", lambda p, f: f.to_excel(p, index=False)),
    ("d.parquet", lambda p, f: f.to_parquet(p)),
    ("d.tsv", lambda p, f: f.to_csv(p, sep="\t", index=False)),
])
def test_formats(tmp_path, name, writer):
    source = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "NA", "c"]})
    path = tmp_path / name
    writer(path, source)
    info = inspect(path, name)
    assert (info.rows, info.columns) == (3, 2)
    frame = read_frame(path, info)
    assert list(frame.columns) == ["x", "y"] and frame["y"].isna().sum() == 1


@pytest.mark.parametrize("name,content,error", [
    ("e.csv", b"", LoadError),
    ("h.csv", b"a,b,c\n", LoadError),
    ("r.csv", b"a,b\n1,2\n3,4,5,6\n", LoadError),
    ("b.json", b"{not json", LoadError),
    ("s.json", b'"just a string"', LoadError),
    ("n.json", b"[1, 2, 3]", LoadError),
    ("x.xlsx", b"a,b\n1,2\n", LoadError),
    ("p.parquet", b"PAR1 but not really", LoadError),
    ("z.csv", b"PK\x03\x04 zip inside", FormatError),
    ("noext", b"a,b\n1,2\n", FormatError),
])
def test_bad_files(tmp_path, name, content, error):
    path = write(tmp_path, name, content, mode="wb")
    with pytest.raises(error):
        inspect(path, name)


def test_duplicate_and_blank_headers_made_unique(tmp_path):
    path = write(tmp_path, "d.json", json.dumps([{"a": 1, " ": 2}]))
    frame = read_frame(path, inspect(path, "d.json"))
    assert list(frame.columns) == ["a", "column_2"]


def test_fileinfo_reused_by_worker(tmp_path):
    path = write(tmp_path, "s.csv", "a;b\n1,5;x\n2,5;y\n")
    info = inspect(path, "s.csv")
    again = FileInfo(format=info.format, encoding=info.encoding, delimiter=info.delimiter)
    assert read_frame(path, again).shape == (2, 2)


def test_codes_and_long_ids_are_read_as_text(tmp_path):
    rows = "\n".join(f"0{1000 + i},12345678901234567{i % 10},{i}" for i in range(30))
    path = write(tmp_path, "c.csv", f"zip,tweet_id,n\n{rows}\n00123,,5\n")
    frame = read_frame(path, inspect(path, "c.csv"))
    assert frame["zip"].iloc[0] == "01000" and frame["tweet_id"].iloc[0] == "123456789012345670"
    assert pd.api.types.is_numeric_dtype(frame["n"])


def test_mixed_and_nested_json_values_become_text(tmp_path):
    path = write(tmp_path, "m.json", json.dumps([{"code": 1, "tags": ["x", "y"], "meta": {"a": 1}},
                                                  {"code": "c2", "tags": [], "meta": None}]))
    frame = read_frame(path, inspect(path, "m.json"))
    assert frame["code"].tolist() == ["1", "c2"] and frame["tags"].tolist() == ['["x", "y"]', "[]"]
    assert frame["meta"].iloc[0] == '{"a": 1}' and pd.isna(frame["meta"].iloc[1])
    assert not frame.duplicated().any()  # rows are hashable now


def test_upload_check_and_worker_agree_on_column_names(tmp_path):
    path = write(tmp_path, "n.csv", "price ,,price \n1,2,3\n")
    info = inspect(path, "n.csv")
    assert info.column_names == list(read_frame(path, info).columns)
    assert info.column_names[:2] == ["price", "column_2"]  # stripped, so target=price finds it


def test_cp1252_byte_after_the_sample_is_still_read(tmp_path):
    body = "name,n\n" + "plain,1\n" * 40_000 + "café,2\n"  # 320 KB of ASCII before the first é
    path = tmp_path / "late.csv"
    path.write_bytes(body.encode("cp1252"))
    info = inspect(path, "late.csv")
    assert info.encoding == "cp1252" and info.rows == 40_001
    assert read_frame(path, info)["name"].iloc[-1] == "café"


def test_xlsx_text_cells_stay_text_like_csv(tmp_path):
    frame = pd.DataFrame({"zip": ["08540", "99508", "35233"] * 10, "sku": ["000075", "001200", "123456"] * 10,
                          "qty": [1, 2, 3] * 10})
    path = tmp_path / "codes.xlsx"
    frame.to_excel(path, index=False)
    csv = tmp_path / "codes.csv"
    frame.to_csv(csv, index=False)
    from_xlsx, _ = load_step(path, inspect(path, path.name))
    from_csv, _ = load_step(csv, inspect(csv, csv.name))
    for loaded in (from_xlsx, from_csv):
        assert loaded["zip"].tolist()[:2] == ["08540", "99508"] and loaded["sku"].iloc[0] == "000075"
        assert pd.api.types.is_numeric_dtype(loaded["qty"])


def test_extra_missing_tokens_and_blank_headers_are_kept_for_the_output(tmp_path):
    path = write(tmp_path, "t.csv", ",score\n1,n.v.\n2,3.5\n")
    frame, logs = load_step(path, inspect(path, "t.csv"), na_values=("n.v.",))
    assert frame["score"].isna().sum() == 1 and "n.v." in logs[0]["params"]["missing_tokens"]
    assert logs[0]["params"]["headers"] == {"column_1": ""}


# --- bounded inspection (issue 11): counts without a frame, limits before one exists -------------
def test_openpyxl_reads_through_defusedxml(tmp_path):
    import openpyxl.xml

    from tests.integration.test_hostile_files import laughs_xlsx
    assert openpyxl.xml.DEFUSEDXML  # the worker's reader refuses entities too, not only inspect
    path = write(tmp_path, "l.xlsx", laughs_xlsx("styles"), mode="wb")
    with pytest.raises(LoadError):
        read_frame(path, FileInfo(format="xlsx"))
    with pytest.raises(LoadError) as info:
        inspect(path, "l.xlsx")
    assert info.value.code == "unsupported_xml"


@pytest.mark.parametrize("rows", [
    [(1, [(1, "a"), (3, "c")]), (2, [(1, 1), (2, 2.5)]), (5, [(3, "x"), (9, None)])],  # gaps, a styled empty
    [(2, [(2, "h")]), (3, [(2, 1)])],  # no first row: pandas names the columns itself
    [(1, [(1, 2020), (2, 1.5), (3, "name")]), (2, [(1, 1), (2, 2), (3, "x")])],  # numbers as headers
])
def test_xlsx_count_agrees_with_pandas(tmp_path, rows):
    from tests.integration.test_hostile_files import xlsx
    path = write(tmp_path, "s.xlsx", xlsx(rows), mode="wb")
    info = inspect(path, "s.xlsx")
    frame = read_frame(path, info)
    assert (info.rows, info.columns) == frame.shape and info.column_names == list(frame.columns)


def test_xlsx_shared_string_headers(tmp_path):
    frame = pd.DataFrame({"Zip code": ["01234"] * 3, "Ville": ["Paris", "Lyon", "Nice"], "n": [1, 2, 3]})
    frame.to_excel(path := tmp_path / "s.xlsx", index=False)  # openpyxl writes shared strings
    info = inspect(path, "s.xlsx")
    assert (info.rows, info.column_names) == (3, ["Zip code", "Ville", "n"])


def test_xlsx_limits(tmp_path):
    from tests.integration.test_hostile_files import (dense_xlsx, entries_xlsx, padded_xlsx, sparse_xlsx,
                                                     styled_xlsx, xlsx)
    for data, limits, code in [(sparse_xlsx(), Limits(columns=5000, rows=1000, xlsx_cells=10**9), "too_many_rows"),
                               (padded_xlsx(), Limits(), "too_many_cells"),
                               (styled_xlsx(100), Limits(xlsx_cells=20_000), "too_many_cells"),
                               (dense_xlsx(20, 10), Limits(xlsx_cells=50), "too_large_decoded"),
                               (xlsx([(1, [(1, "a" + "<x/>" * 2000)])]), Limits(xlsx_cells=300), "too_many_cells"),
                               (dense_xlsx(20, 10), Limits(rows=5), "too_many_rows"),
                               (entries_xlsx(), Limits(), "too_large_decoded")]:
        path = write(tmp_path, "x.xlsx", data, mode="wb")
        with pytest.raises(LimitError) as info:
            inspect(path, "x.xlsx", limits)
        assert info.value.code == code
    assert inspect(path := write(tmp_path, "d.xlsx", dense_xlsx(20, 10), mode="wb"), "d.xlsx").rows == 20


@pytest.mark.parametrize("content,shape", [
    (b'{"meta": {"a": {"b": 1}}, "data": [{"x": 1}, {"y": 2, "x": 3}], "n": 2}', (2, ["x", "y"])),
    (b'{"x": 1}\n{"x": 2, "z": [1, {"q": 1}]}\n', (2, ["x", "z"])),  # JSON Lines under a .json name
    ('\ufeff[{"é": "ü"}]'.encode("utf-8"), (1, ["é"])),
    ('[{"é": "ü"}, {"é": null}]'.encode("utf-16"), (2, ["é"])),
])
def test_json_counted_from_events(tmp_path, content, shape):
    path = write(tmp_path, "d.json", content, mode="wb")
    info = inspect(path, "d.json")
    assert (info.rows, info.column_names) == shape
    assert read_frame(path, info).shape == (shape[0], len(shape[1]))


@pytest.mark.parametrize("content", [b'{"a": [{"x": 1}], "b": [{"x": 2}]}', b'[{"x": 1}, 2]', b'{"a": 1}',
                                     b'[{"x": 1}, [1]]', b"[]", b"[[[[[[[[[[]]]]]]]]]]"])
def test_json_that_is_not_records(tmp_path, content):
    path = write(tmp_path, "d.json", content, mode="wb")
    with pytest.raises(LoadError) as info:
        inspect(path, "d.json")
    assert info.value.code == "unparseable"


def test_json_depth_limit(tmp_path):
    path = write(tmp_path, "d.json", b'[{"a": ' + b"[" * 10 + b"]" * 10 + b"}]", mode="wb")
    assert inspect(path, "d.json", Limits(json_depth=12)).rows == 1
    with pytest.raises(LimitError) as info:
        inspect(path, "d.json", Limits(json_depth=11))
    assert info.value.code == "too_deep"


def test_csv_limits_stop_the_count_early(tmp_path):
    path = write(tmp_path, "t.csv", "a,b\n" + "1,2\n" * 300_000)
    with pytest.raises(LimitError) as info:
        inspect(path, "t.csv", Limits(rows=1000))
    assert info.value.code == "too_many_rows" and info.value.details["rows"] < 300_000  # stopped at a chunk
    with pytest.raises(LimitError) as info:
        inspect(path, "t.csv", Limits(columns=1))
    assert info.value.code == "too_many_columns"


def test_csv_header_is_measured_before_pandas_reads_it(tmp_path):
    quoted = write(tmp_path, "q.csv", '"two\nlines",b\n1,2\n')
    assert inspect(quoted, "q.csv").column_names == ["two\nlines", "b"]
    for header in ("a," + "n" * 300, "a," + '"' + "n" * 2_000_000 + '"'):  # one long name, one past the prefix
        path = write(tmp_path, "n.csv", header + "\n1,2\n")
        with pytest.raises(LimitError) as info:
            inspect(path, "n.csv")
        assert info.value.code == "column_name_too_long"


def test_parquet_shape_from_the_footer(tmp_path):
    from tests.integration.test_hostile_files import tall_parquet
    path = write(tmp_path, "t.parquet", tall_parquet(2_000), mode="wb")
    assert inspect(path, "t.parquet").rows == 2_000
    with pytest.raises(LimitError) as info:
        inspect(path, "t.parquet", Limits(rows=1_999))
    assert info.value.code == "too_many_rows"


def test_parquet_with_categorical_columns_reads_and_drops_missing_tokens(tmp_path):
    path = tmp_path / "cat.parquet"
    pd.DataFrame({"c": pd.Categorical(["a", "N/A", "b", "a"]), "n": [1, 2, 3, 4]}).to_parquet(path)
    frame, _ = load_step(path, inspect(path, path.name))
    assert frame["c"].isna().tolist() == [False, True, False, False] and frame["c"].iloc[0] == "a"
