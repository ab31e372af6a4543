"""Rows and columns of an .xlsx file's first sheet by one streaming pass over its XML, within a cell budget."""
from __future__ import annotations

import posixpath
import re
import struct
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .bounds import Limits, LimitError, LoadError, UnsupportedXML

DAMAGED = "The .xlsx file is damaged or not a spreadsheet."
DTD = "The spreadsheet contains a DTD (XML entity definitions); save it again from a spreadsheet program."
CENTRAL_DIRECTORY_BYTES = 1024 * 1024  # the zip's table of contents; about 20,000 parts
SMALL_PART_BYTES = 16 * 1024 * 1024  # workbook.xml and relationships are read whole
# XML elements a budgeted cell may take (<c><v>: 2, inline text or a formula: 3): Python sees every
# element, so elements, not bytes, are what a pass costs (a sheet of 80M empty <x/> fits in 320 MB).
ELEMENTS_PER_CELL = 4
PROLOG_BYTES = 64 * 1024  # a part's root element must start within this (a DTD would come before it)
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
_DIGITS = "0123456789"
# Element names as expat reports them (namespace, space, local name), in the transitional and the
# strict namespace or none, mapped to the local names we act on: one dict lookup an element.
_TAGS = {f"{ns} {tag}".lstrip(): tag for tag in ("c", "v", "is", "t", "row", "dimension", "si", "rPh")
         for ns in ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                    "http://purl.oclc.org/ooxml/spreadsheetml/main", "")}


class _Stop(Exception):
    """Enough has been read."""


def _too_many_elements(limits: Limits) -> LimitError:
    most = limits.xlsx_cells * ELEMENTS_PER_CELL
    return LimitError("too_many_cells", f"The spreadsheet has more than {most:,} XML elements "
                      f"({ELEMENTS_PER_CELL} for each of the {limits.xlsx_cells:,} cells allowed).",
                      max_elements=most, max_xlsx_cells=limits.xlsx_cells)


@lru_cache(maxsize=20_000)
def _column(letters: str) -> int:
    """'AB' -> 28."""
    if not (letters.isascii() and letters.isalpha() and len(letters) <= 3):
        raise LoadError(DAMAGED)
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def _ref(ref: str) -> tuple[int, int]:
    """'AB12' -> (column 28, row 12)."""
    match = _REF.fullmatch(ref)
    if not match:
        raise LoadError(DAMAGED)
    return _column(match[1]), int(match[2])


def _guard_zip(path: str | Path) -> None:
    """Refuse a central directory over CENTRAL_DIRECTORY_BYTES before zipfile reads it: zipfile makes an
    object of every entry (a million empty ones cost 550 MB and 6 s), whatever the entries hold."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - 65_557))  # the end record: 22 bytes and a comment of up to 64 KB
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise LoadError(DAMAGED)
    directory = struct.unpack_from("<I", tail, at + 12)[0]
    zip64 = at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07"  # its own sizes would replace these
    if directory > CENTRAL_DIRECTORY_BYTES or zip64:
        raise LimitError("too_large_decoded", "The .xlsx file has too many parts.",
                         directory_bytes=directory, max_directory_bytes=CENTRAL_DIRECTORY_BYTES)


def _parser(start=None) -> expat.XMLParserType:
    """An expat parser that refuses any DTD: .xlsx parts never need one, so entity expansion
    (billion laughs) and external entities have nothing to work with."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_args):
        raise UnsupportedXML(DTD)
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.buffer_text = True
    return parser


def _feed(parser, fh, limit: int | None = None, piece: int = 1 << 20) -> None:
    """Parse a part piece by piece; stop quietly when a handler raises _Stop, refuse past `limit` bytes."""
    read = 0
    try:
        while chunk := fh.read(piece):
            read += len(chunk)
            parser.Parse(chunk, False)
            if limit is not None and read >= limit:
                raise UnsupportedXML("A spreadsheet part does not start with its XML element.")
        parser.Parse(b"", True)
    except _Stop:
        pass


def _check_prologs(book: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> None:
    def root(*_args):
        raise _Stop
    for part in parts:
        with book.open(part) as fh:
            _feed(_parser(root), fh, PROLOG_BYTES, piece=4096)


def _small(book: zipfile.ZipFile, name: str):
    info = book.getinfo(name)
    if info.file_size > SMALL_PART_BYTES:
        raise LoadError(DAMAGED)
    return fromstring(book.read(info), forbid_dtd=True)


def _targets(book: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, path in the zip) of a part's relationships."""
    folder, name = posixpath.split(part)
    rels = _small(book, posixpath.join(folder, "_rels", name + ".rels"))
    out = []
    for rel in rels:
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out.append((rel.get("Id"), rel.get("Type", ""), path))
    return out


def _first_sheet(book: zipfile.ZipFile) -> tuple[str, str | None]:
    """The first worksheet in workbook order (the one pandas reads) and the shared strings part."""
    workbook = next((p for _i, t, p in _targets(book, "") if t.endswith("/officeDocument")), "xl/workbook.xml")
    rels = _targets(book, workbook)
    sheets = {i: p for i, t, p in rels if t.endswith("/worksheet")}
    strings = next((p for _i, t, p in rels if t.endswith("/sharedStrings")), None)
    for element in _small(book, workbook).iter():
        if element.tag.endswith("}sheet"):
            rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)  # r:id
            if rid in sheets:
                return sheets[rid], strings
    raise LoadError("The .xlsx file has no worksheet.")


class _SheetScan:
    """Counts a sheet as openpyxl (read-only) and pandas would materialise it.

    openpyxl pads each row to its last cell, empty or not, and pandas pads every row up to the
    last row with a value to the widest one: the budget charges both. The first row's texts are
    kept (up to one character over the name limit) as the column names.
    """

    def __init__(self, parser, limits: Limits):
        self.parser, self.limits = parser, limits
        self.row = self.col = self.last = self.max_row = self.max_col = self.charged = self.elements = 0
        self.max_elements = limits.xlsx_cells * ELEMENTS_PER_CELL
        self.kind: str | None = None
        self.header: dict[int, list] = {}  # column -> [cell type, text]

    def start(self, name: str, attrs: dict) -> None:
        self.elements += 1
        if self.elements > self.max_elements:
            raise _too_many_elements(self.limits)
        tag = _TAGS.get(name)
        if tag == "c":
            ref = attrs.get("r")
            self.col = self.last = _column(ref.rstrip(_DIGITS)) if ref else self.col + 1
            self.kind = attrs.get("t")
        elif tag == "v" or tag == "is":
            if self.col > self.max_col or self.row > self.max_row:
                self._grow()
            if self.row == 1:
                self.header[self.col] = [self.kind, ""]
                if tag == "v":
                    self._capture()
        elif tag == "t" and self.row == 1 and self.col in self.header:
            self._capture()  # inline text, possibly in several runs
        elif tag == "row":
            self.end_row()
            r = attrs.get("r")
            self.row, self.col, self.last = int(r) if r else self.row + 1, 0, 0
        elif tag == "dimension" and attrs.get("ref"):
            cols, rows = _ref(attrs["ref"].split(":")[-1])
            self.limits.check_columns(cols, declared=True)
            self.limits.check_rows(rows - 1, declared=True)
            self.limits.check_cells(cols * rows, declared=True)

    def _grow(self) -> None:
        """A value beyond the extent so far: pandas will pad every row to it."""
        self.max_col, self.max_row = max(self.col, self.max_col), max(self.row, self.max_row)
        self.limits.check_columns(self.max_col, at_least=True)
        self.limits.check_rows(self.max_row - 1, at_least=True)
        self.limits.check_cells(self.max_row * self.max_col)

    def end_row(self) -> None:
        self.charged += max(self.last, 1)
        self.limits.check_cells(self.charged)

    def _capture(self) -> None:
        self.parser.CharacterDataHandler, self.parser.EndElementHandler = self._text, self._end

    def _text(self, data: str) -> None:
        cell = self.header[self.col]
        cell[1] = (cell[1] + data)[:self.limits.name_chars + 1]

    def _end(self, _name: str) -> None:
        # <v> and <t> hold only text: the first end tag after one opened is its own.
        self.parser.CharacterDataHandler = self.parser.EndElementHandler = None

    def names(self, shared: dict[int, str]) -> list[str]:
        out = []
        for col in range(1, self.max_col + 1):
            kind, text = self.header.get(col, (None, ""))
            if kind == "s":
                text = shared.get(int(text), "") if text.strip().isdigit() else ""
            elif kind == "b":
                text = "True" if text.strip() == "1" else "False"
            elif kind in (None, "n") and text:  # openpyxl reads "2020" as an int, "1.5" or "1E3" as a float
                try:
                    text = str(float(text)) if any(ch in text for ch in ".eE") else str(int(text))
                except ValueError:
                    pass
            out.append(text)
        return out


def _shared_strings(book: zipfile.ZipFile, part: str, wanted: set[int], limits: Limits) -> dict[int, str]:
    """The shared strings the header uses, streamed only as far as the last one of them."""
    found: dict[int, str] = {}
    state = {"index": -1, "take": False, "elements": 0}
    last = max(wanted)

    def start(name, _attrs):
        state["elements"] += 1
        if state["elements"] > limits.xlsx_cells * ELEMENTS_PER_CELL:
            raise _too_many_elements(limits)
        tag = _TAGS.get(name)
        if tag == "si":
            state["index"] += 1
            if state["index"] > last:
                raise _Stop
            if state["index"] in wanted:
                found[state["index"]] = ""
        elif tag == "rPh":
            state["take"] = False  # phonetic runs are not part of the text
        elif tag == "t":
            state["take"] = state["index"] in found

    def text(data):
        if state["take"]:
            found[state["index"]] = (found[state["index"]] + data)[:limits.name_chars + 1]

    parser = _parser(start)
    parser.CharacterDataHandler = text
    parser.EndElementHandler = lambda _name: state.update(take=False)
    with book.open(part) as fh:
        _feed(parser, fh)
    return found


def xlsx_shape(path: str | Path, limits: Limits) -> tuple[int, list[str]]:
    """Rows (below the header row) and column names of the first sheet, as pandas would read them.

    Refused before a frame exists: a DTD in any part, decompressed XML over the budget's bytes, a
    declared <dimension> or a counted extent over the row, column or cell limits.
    """
    _guard_zip(path)
    try:
        with zipfile.ZipFile(path) as book:
            # The XML a reader may parse (.vml drawings are not read, and are often not well-formed).
            parts = [i for i in book.infolist() if i.filename.endswith((".xml", ".rels"))]
            total = sum(i.file_size for i in parts)  # zipfile stops at the declared size (then the CRC fails)
            if total > limits.xml_bytes:
                raise LimitError("too_large_decoded", f"The spreadsheet's XML is {total / 2**20:,.0f} MB "
                                 f"uncompressed; at most {limits.xml_bytes / 2**20:,.0f} MB is read.",
                                 xml_bytes=total, max_xml_bytes=limits.xml_bytes)
            _check_prologs(book, parts)
            sheet, strings = _first_sheet(book)
            parser = _parser()
            scan = _SheetScan(parser, limits)
            parser.StartElementHandler = scan.start
            with book.open(sheet) as fh:
                _feed(parser, fh)
            scan.end_row()
            wanted = {int(t) for k, t in scan.header.values() if k == "s" and t.strip().isdigit()}
            shared = _shared_strings(book, strings, wanted, limits) if wanted and strings else {}
    except (zipfile.BadZipFile, KeyError, expat.ExpatError, zlib.error, EOFError, NotImplementedError,
            RuntimeError, DefusedXmlException, ValueError) as exc:
        if isinstance(exc, LoadError):
            raise
        if isinstance(exc, DefusedXmlException):
            raise UnsupportedXML(DTD) from exc
        raise LoadError(DAMAGED) from exc
    return max(scan.max_row - 1, 0), scan.names(shared)
