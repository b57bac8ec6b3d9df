"""Read pair files into records: each record is one pair's values under the file's own column
names, with its place in the file (line, JSON item or Parquet row) for error messages.

Checking the values and turning records into a data set is :mod:`harness.quality.pairs`'s
job; this module only knows file layouts. Any file it cannot parse raises
:class:`~harness.errors.DataError` naming the file and the place.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError

__all__ = ["FIXED_LAYOUTS", "READERS", "PairRecords", "Place", "read_records"]

_STSB_MIN_COLUMNS = 7  # genre, file, year, id, score, sentence 1, sentence 2 (+ ignored extras)


@dataclass(frozen=True)
class Place:
    """Where a record (or a header) is: a 1-based physical line, or an item/row index."""

    line: int | None = None
    at: str | None = None  # "item 12" (JSON, counted from 0), "row 3" (Parquet, from 0)

    def error(self, path: Path, problem: str, fix: str) -> DataError:
        return DataError(path, problem, fix, line=self.line, at=self.at)

    def __str__(self) -> str:
        return f"line {self.line}" if self.line is not None else (self.at or "the file")


@dataclass(frozen=True)
class PairRecords:
    """What a reader found: the records and, for tabular files, the header they share.

    ``text``: the values are text cells (CSV, TSV, STS-B, MRPC) that still have to be parsed,
    rather than typed values (JSON numbers, Parquet columns).
    """

    records: list[tuple[Place, dict[str, Any]]]
    header: tuple[list[str], Place] | None
    text: bool


#: formats whose columns are fixed: the file's own names of the pair's columns
FIXED_LAYOUTS: dict[str, dict[str, str]] = {
    "stsb": {"score": "score", "sentence1": "sentence1", "sentence2": "sentence2"},
    "mrpc": {"label": "Quality", "sentence1": "#1 String", "sentence2": "#2 String"},
}


def read_records(path: Path, fmt: str) -> PairRecords:
    """Read *path* in format *fmt* (a key of :data:`READERS`)."""
    return READERS[fmt](path)


# --------------------------------------------------------------------------- bytes and lines


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            path,
            "file not found",
            "check the path, or create the file (paths are relative to the working directory)",
        ) from None
    except IsADirectoryError:
        raise DataError(
            path, "is a directory, not a file", "point to the data file itself"
        ) from None
    except OSError as exc:
        raise DataError(
            path, f"cannot read the file ({exc.strerror or exc})", "check the file's permissions"
        ) from None


def _read_text(path: Path) -> str:
    """Read *path* as strict UTF-8, dropping a leading byte-order mark."""
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            path,
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8 ({exc.reason})",
            "re-save the file as UTF-8",
            line=line,
        ) from None


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based physical line number, line without its LF/CRLF ending)."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line[:-1] if line.endswith("\r") else line


# --------------------------------------------------------------------------- formats


def _read_jsonl(path: Path) -> PairRecords:
    """One JSON object per line; blank lines skipped."""
    records = []
    for number, line in _lines(_read_text(path)):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                path,
                f"invalid JSON ({exc.msg} at column {exc.colno})",
                "write one complete JSON object per line (JSON Lines)",
                line=number,
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                path,
                f"expected a JSON object, got {type(obj).__name__}",
                'write each line as {"sentence1": ..., "sentence2": ..., "score": ...}',
                line=number,
            )
        records.append((Place(line=number), obj))
    return PairRecords(records, None, text=False)


def _read_json(path: Path) -> PairRecords:
    """One JSON array of objects, one object per pair."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataError(
            path,
            f"invalid JSON ({exc.msg} at column {exc.colno})",
            "fix the JSON at the position shown",
            line=exc.lineno,
        ) from None
    if not isinstance(data, list):
        raise DataError(
            path,
            f"expected one JSON array of objects, got {type(data).__name__}",
            'write the file as [{"sentence1": ..., "sentence2": ..., "score": ...}, ...] '
            '(one object per line is format "jsonl")',
        )
    records = []
    for index, obj in enumerate(data):
        place = Place(at=f"item {index}")
        if not isinstance(obj, dict):
            raise place.error(
                path,
                f"expected a JSON object, got {type(obj).__name__}",
                'write each item as {"sentence1": ..., "sentence2": ..., "score": ...}',
            )
        records.append((place, obj))
    return PairRecords(records, None, text=False)


def _delimited(path: Path, delimiter: str) -> PairRecords:
    """A header line, then one row per record, quoted as CSV; blank lines skipped."""
    kind = "comma" if delimiter == "," else "tab"
    reader = csv.reader(
        io.StringIO(_read_text(path), newline=""), delimiter=delimiter, strict=True
    )
    last_line = 0

    def rows() -> Iterator[tuple[int, list[str]]]:
        nonlocal last_line
        while True:
            start = last_line + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(
                    path,
                    f"malformed {'CSV' if kind == 'comma' else 'TSV'} ({exc})",
                    f'quote fields that contain {kind}s, quotes or line breaks '
                    '("a ""quoted"" word")',
                    line=start,
                ) from None
            last_line = reader.line_num
            if len(cells) > 1 or (cells and cells[0].strip()):  # skip blank lines
                yield start, cells

    it = rows()
    first = next(it, None)
    if first is None:
        raise DataError(path, "the file is empty (no header line)", "point to a non-empty file")
    header_line, raw_header = first
    header = [cell.strip() for cell in raw_header]
    records = []
    for number, cells in it:
        if len(cells) != len(header):
            raise DataError(
                path,
                f"wrong number of columns: {len(cells)} {kind}-separated columns, "
                f"the header has {len(header)}",
                f"quote fields that contain {kind}s, and give every row one value per header "
                "column",
                line=number,
            )
        records.append((Place(line=number), dict(zip(header, cells, strict=True))))
    return PairRecords(records, (header, Place(line=header_line)), text=True)


def _read_csv(path: Path) -> PairRecords:
    return _delimited(path, ",")


def _read_tsv(path: Path) -> PairRecords:
    return _delimited(path, "\t")


def _read_parquet(path: Path) -> PairRecords:
    """A Parquet table, one row per pair (pyarrow is imported only here)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _read_bytes(path)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            path,
            f"not a readable Parquet file ({exc})",
            "write it with pyarrow.parquet.write_table or DataFrame.to_parquet, or pick the "
            "format that matches the file",
        ) from None
    records = [(Place(at=f"row {i}"), row) for i, row in enumerate(table.to_pylist())]
    return PairRecords(records, (list(table.column_names), Place()), text=False)


def _read_stsb(path: Path) -> PairRecords:
    """STS Benchmark: tab-separated, no header, no quoting; columns 5-7 are score, s1, s2."""
    records = []
    for number, line in _lines(_read_text(path)):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < _STSB_MIN_COLUMNS:
            raise DataError(
                path,
                f"wrong number of columns: {len(cells)} tab-separated columns, "
                f"STS-B rows need at least {_STSB_MIN_COLUMNS} "
                "(genre, file, year, id, score, sentence1, sentence2)",
                "check that the columns are separated by tabs and no column is missing",
                line=number,
            )
        values = {"score": cells[4], "sentence1": cells[5], "sentence2": cells[6]}
        records.append((Place(line=number), values))
    return PairRecords(records, None, text=True)


def _read_mrpc(path: Path) -> PairRecords:
    """MRPC: tab-separated with a header, no quoting; 'Quality' and '#1/#2 String' are kept."""
    lines = _lines(_read_text(path))
    header: list[str] | None = None
    header_line = 0
    for number, line in lines:
        if line.strip():
            header = [cell.strip() for cell in line.split("\t")]
            header_line = number
            break
    if header is None:
        raise DataError(
            path, "the file is empty (no header line)", "point to a non-empty MRPC file"
        )
    for column in FIXED_LAYOUTS["mrpc"].values():
        if column not in header:
            raise DataError(
                path,
                f"missing column {column!r} in the header (found: {', '.join(map(repr, header))})",
                "use the MRPC header 'Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String'",
                line=header_line,
            )
    index = {column: header.index(column) for column in FIXED_LAYOUTS["mrpc"].values()}
    records = []
    for number, line in lines:
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DataError(
                path,
                f"wrong number of columns: {len(cells)} tab-separated columns, "
                f"the header has {len(header)}",
                "check that the columns are separated by tabs and no sentence contains a tab",
                line=number,
            )
        records.append((Place(line=number), {c: cells[i] for c, i in index.items()}))
    return PairRecords(records, None, text=True)


#: every format's reader, by format name
READERS: dict[str, Callable[[Path], PairRecords]] = {
    "jsonl": _read_jsonl,
    "stsb": _read_stsb,
    "mrpc": _read_mrpc,
    "csv": _read_csv,
    "tsv": _read_tsv,
    "json": _read_json,
    "parquet": _read_parquet,
}
