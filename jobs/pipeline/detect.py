"""Format, encoding and delimiter detection from a file's name and first bytes."""
from __future__ import annotations

import csv
from pathlib import Path

from charset_normalizer import from_bytes

from .bounds import FormatError, LoadError

FORMATS = ("csv", "tsv", "json", "jsonl", "xlsx", "parquet")
EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet",
}
_DELIMITERS = [",", ";", "\t", "|"]
WESTERN = {"cp1252", "latin_1", "iso8859_15"}
SAMPLE_BYTES = 256 * 1024


def format_from_name(filename: str) -> str | None:
    return EXTENSIONS.get(Path(filename).suffix.lower())


def sniff_format(head: bytes, claimed: str | None) -> str:
    """Trust the content over the name: binary containers are recognised by magic bytes."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        if claimed not in (None, "xlsx"):
            raise FormatError("The file is a ZIP container, not %s." % claimed.upper())
        return "xlsx"
    if claimed in ("parquet", "xlsx"):
        raise LoadError(f"The file does not look like {claimed} (wrong magic bytes).")
    if claimed is not None:
        return claimed
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl" if b"}\n{" in stripped.replace(b"\r\n", b"\n").replace(b"} ", b"}") else "json"
    raise FormatError("Unknown file type: use .csv, .tsv, .json, .jsonl, .xlsx or .parquet.")


def detect_encoding(sample: bytes) -> str:
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("The file contains NUL bytes: it is binary, not text.")
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        # The sample may end in the middle of a multi-byte character.
        sample.decode("utf-8") if len(sample) < SAMPLE_BYTES else sample[:-4].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        raise LoadError("Could not detect the text encoding; save the file as UTF-8.")
    # Short samples fit several single-byte code pages equally well; Western Excel exports
    # (cp1252) are by far the most common, so prefer it when it reads as cleanly.
    for match in matches:
        if match.encoding in WESTERN and match.chaos <= best.chaos + 0.01:
            return _western(sample)
    return best.encoding


def _western(sample: bytes) -> str:
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:  # five bytes are undefined in cp1252
        return "latin_1"


def detect_delimiter(text: str, default: str = ",") -> str:
    """Pick the delimiter that splits the first lines into the most, equally many fields."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last sampled line may be cut short
    best, best_score = default, 0
    for delim in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = counts[0] * consistent
        if consistent >= 0.9 and score > best_score:
            best, best_score = delim, score
    return best


def read_head(path: str | Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)
