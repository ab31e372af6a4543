"""Limits a file is inspected within, and the load step's errors: unreadable, unsupported, over a limit."""
from __future__ import annotations

from dataclasses import dataclass, field

# What one spreadsheet cell may cost in XML, averaged: the decompressed parts of an .xlsx may be at most
# this times the cell budget (a cell with a shared string, `<c r="AB1234" s="1" t="s"><v>123</v></c>`,
# is about 35 bytes; inline text makes some cells longer).
XML_BYTES_PER_CELL = 64


class LoadError(ValueError):
    """The file cannot be read as the tabular format it claims to be."""

    code = "unparseable"
    details: dict = {}


class FormatError(LoadError):
    """The file's format is not one we read."""

    code = "unsupported_format"


class UnsupportedXML(LoadError):
    """A spreadsheet part declares a DTD: refused whatever it contains (entities, external references)."""

    code = "unsupported_xml"


class LimitError(LoadError):
    """The file is readable but over one of the `Limits`; `code` and `details` say which."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code, self.details = code, details


@dataclass(frozen=True)
class Limits:
    """Shape a file may have, checked while it is counted, before any DataFrame exists."""

    rows: int = 1_000_000
    columns: int = 500
    name_chars: int = 256  # a column name, in characters
    xlsx_cells: int = 5_000_000  # cells a sheet may make the reader materialise (padding included)
    json_depth: int = 64  # nesting of arrays and objects in JSON
    xml_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "xml_bytes", self.xlsx_cells * XML_BYTES_PER_CELL)

    def check_rows(self, rows: int, *, at_least: bool = False, declared: bool = False) -> None:
        if rows > self.rows:
            what = "The sheet declares " if declared else "At least " if at_least else ""
            raise LimitError("too_many_rows", f"{what}{rows:,} rows; the limit is {self.rows:,}.",
                             rows=rows, max_rows=self.rows)

    def check_columns(self, columns: int, *, at_least: bool = False, declared: bool = False) -> None:
        if columns > self.columns:
            what = "The sheet declares " if declared else "At least " if at_least else ""
            raise LimitError("too_many_columns", f"{what}{columns:,} columns; the limit is {self.columns:,}.",
                             columns=columns, max_columns=self.columns)

    def check_name(self, name: object) -> None:
        text = str(name)
        if len(text) > self.name_chars:  # the length itself may be a lower bound: readers stop early
            raise LimitError("column_name_too_long", f"A column name is longer than {self.name_chars:,} "
                             "characters (MAX_COLUMN_NAME).", max_column_name=self.name_chars, starts=text[:40])

    def check_cells(self, cells: int, *, declared: bool = False) -> None:
        if cells > self.xlsx_cells:
            what = "declares a range of" if declared else "needs at least"
            raise LimitError("too_many_cells",
                             f"The sheet {what} {cells:,} cells (empty ones between filled ones count); "
                             f"the limit is {self.xlsx_cells:,}.", cells=cells, max_xlsx_cells=self.xlsx_cells)

    def too_deep(self) -> LimitError:
        return LimitError("too_deep", f"The JSON is nested more than {self.json_depth} levels deep.",
                          max_depth=self.json_depth)
