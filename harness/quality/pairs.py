"""Read sentence-pair evaluation data (JSONL, STS-B, MRPC, CSV) into one validated form.

Every reader returns a :class:`PairDataset`. Any input the gate cannot use raises
:class:`~harness.errors.DataError` naming the file, the 1-based physical line, the
problem and the fix. Each data set carries a content fingerprint (SHA-256 over texts,
scores, labels, splits and slices) that does not depend on the file format, line
endings or a byte-order mark, so reports can prove which data a verdict was made on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError

__all__ = ["FORMATS", "PairDataset", "read_pairs", "read_sentences"]

FORMATS: tuple[str, ...] = ("jsonl", "stsb", "mrpc", "csv")

_OPTIONAL = ("score", "label", "split", "slice")
_STSB_MIN_COLUMNS = 7  # genre, file, year, id, score, sentence 1, sentence 2 (+ ignored extras)
_MRPC_COLUMNS = {"label": "Quality", "sentence1": "#1 String", "sentence2": "#2 String"}
_FINGERPRINT_VERSION = "pair-dataset-v1"


# --------------------------------------------------------------------------- data set


@dataclass(frozen=True, eq=False)
class PairDataset:
    """An immutable, validated set of sentence pairs with graded scores and/or 0/1 labels.

    Build one with :meth:`build` (which computes ``fingerprint``) or :func:`read_pairs`.
    Arrays are read-only; equality and hashing use ``name``, ``path`` and ``fingerprint``.
    """

    name: str
    path: Path
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    scores: np.ndarray | None
    labels: np.ndarray | None
    splits: tuple[str, ...] | None
    slices: tuple[str, ...] | None
    fingerprint: str

    def __post_init__(self) -> None:
        n = len(self.sentence1)
        if len(self.sentence2) != n:
            raise ValueError(f"sentence2 has {len(self.sentence2)} rows, sentence1 has {n}")
        for field, dtype in (("scores", np.float64), ("labels", np.int64)):
            value = getattr(self, field)
            if value is None:
                continue
            array = np.array(value, dtype=dtype)  # private copy, so freezing it is safe
            if array.shape != (n,):
                raise ValueError(f"{field} has shape {array.shape}, expected ({n},)")
            array.setflags(write=False)
            object.__setattr__(self, field, array)
        for field in ("splits", "slices"):
            value = getattr(self, field)
            if value is not None and len(value) != n:
                raise ValueError(f"{field} has {len(value)} rows, expected {n}")

    @classmethod
    def build(
        cls,
        name: str,
        path: str | Path,
        sentence1: Sequence[str],
        sentence2: Sequence[str],
        *,
        scores: Sequence[float] | np.ndarray | None = None,
        labels: Sequence[int] | np.ndarray | None = None,
        splits: Sequence[str] | None = None,
        slices: Sequence[str] | None = None,
    ) -> PairDataset:
        """Create a data set from columns, computing its fingerprint."""
        s1, s2 = tuple(sentence1), tuple(sentence2)
        sc = None if scores is None else np.asarray(scores, dtype=np.float64)
        lb = None if labels is None else np.asarray(labels, dtype=np.int64)
        sp = None if splits is None else tuple(splits)
        sl = None if slices is None else tuple(slices)
        return cls(
            name=name,
            path=Path(path),
            sentence1=s1,
            sentence2=s2,
            scores=sc,
            labels=lb,
            splits=sp,
            slices=sl,
            fingerprint=_fingerprint(s1, s2, sc, lb, sp, sl),
        )

    def __len__(self) -> int:
        return len(self.sentence1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PairDataset):
            return NotImplemented
        return (self.name, self.path, self.fingerprint) == (
            other.name,
            other.path,
            other.fingerprint,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.path, self.fingerprint))

    def __repr__(self) -> str:
        kinds = [
            k for k in ("scores", "labels", "splits", "slices") if getattr(self, k) is not None
        ]
        return (
            f"PairDataset(name={self.name!r}, path={str(self.path)!r}, rows={len(self)}, "
            f"columns={kinds}, fingerprint={self.fingerprint[:12]}...)"
        )

    def select(self, mask_or_indices: Sequence[bool] | Sequence[int] | np.ndarray) -> PairDataset:
        """Return the rows picked by a boolean mask (one entry per row) or integer indices.

        Indices keep their order (repeats allowed); the fingerprint is recomputed.
        """
        idx = np.asarray(mask_or_indices)
        if idx.ndim != 1:
            raise ValueError(f"select() needs a 1-D mask or index list, got shape {idx.shape}")
        if idx.dtype == np.bool_:
            if idx.shape[0] != len(self):
                raise ValueError(
                    f"boolean mask has {idx.shape[0]} entries, data set has {len(self)}"
                )
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = np.zeros(0, dtype=np.int64)
        elif not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"select() needs booleans or integers, got dtype {idx.dtype}")
        n = len(self)
        if idx.size and (idx.max() >= n or idx.min() < -n):
            raise IndexError(f"index out of range for a data set of {n} rows")
        rows = [int(i) for i in idx]

        def pick(values: Sequence[str] | None) -> tuple[str, ...] | None:
            return None if values is None else tuple(values[i] for i in rows)

        return PairDataset.build(
            self.name,
            self.path,
            pick(self.sentence1) or (),
            pick(self.sentence2) or (),
            scores=None if self.scores is None else self.scores[idx],
            labels=None if self.labels is None else self.labels[idx],
            splits=pick(self.splits),
            slices=pick(self.slices),
        )

    def split(self, name: str) -> PairDataset:
        """Return the rows whose ``split`` equals *name*; DataError if there are none."""
        if self.splits is None:
            raise DataError(
                self.path,
                f"data set {self.name!r} has no split column, so split {name!r} cannot be taken",
                "add a 'split' field to every row, or use a file that holds only that split",
            )
        mask = np.fromiter((s == name for s in self.splits), dtype=bool, count=len(self))
        if not mask.any():
            present = ", ".join(repr(s) for s in dict.fromkeys(self.splits))
            raise DataError(
                self.path,
                f"no rows of data set {self.name!r} have split {name!r} (present: {present})",
                "use one of the splits present, or add rows for that split",
            )
        return self.select(mask)

    def unique_texts(self) -> list[str]:
        """Every distinct sentence, in first-seen order (row by row, sentence1 before sentence2)."""
        seen: dict[str, None] = {}
        for a, b in zip(self.sentence1, self.sentence2, strict=True):
            seen.setdefault(a)
            seen.setdefault(b)
        return list(seen)

    def shared_pairs(self, other: PairDataset) -> list[tuple[str, str]]:
        """The distinct pairs of this data set that `other` also holds, in this set's order;
        a pair is its two sentences in either order (a cosine score does not tell them apart)."""
        theirs = {frozenset(p) for p in zip(other.sentence1, other.sentence2, strict=True)}
        shared: dict[frozenset[str], tuple[str, str]] = {}
        for pair in zip(self.sentence1, self.sentence2, strict=True):
            if frozenset(pair) in theirs:
                shared.setdefault(frozenset(pair), pair)
        return list(shared.values())

    @property
    def duplicate_pairs(self) -> int:
        """Number of rows whose ordered (sentence1, sentence2) pair already appeared earlier."""
        return len(self) - len(set(zip(self.sentence1, self.sentence2, strict=True)))


def _fingerprint(
    s1: Sequence[str],
    s2: Sequence[str],
    scores: np.ndarray | None,
    labels: np.ndarray | None,
    splits: Sequence[str] | None,
    slices: Sequence[str] | None,
) -> str:
    """SHA-256 over a canonical JSON-lines rendering of the content (format-independent)."""
    h = hashlib.sha256()
    header = {
        "version": _FINGERPRINT_VERSION,
        "rows": len(s1),
        "columns": [
            name
            for name, col in zip(_OPTIONAL, (scores, labels, splits, slices), strict=True)
            if col is not None
        ],
    }
    h.update(json.dumps(header, sort_keys=True).encode("utf-8") + b"\n")
    score_list = None if scores is None else [float(x) for x in scores]
    label_list = None if labels is None else [int(x) for x in labels]
    for i in range(len(s1)):
        row = [
            s1[i],
            s2[i],
            None if score_list is None else score_list[i],
            None if label_list is None else label_list[i],
            None if splits is None else splits[i],
            None if slices is None else slices[i],
        ]
        h.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


# --------------------------------------------------------------------------- reading


@dataclass
class _Row:
    """One parsed row before it is turned into columns."""

    line: int
    sentence1: str
    sentence2: str
    score: float | None = None
    label: int | None = None
    split: str | None = None
    slice: str | None = None


def read_pairs(
    path: str | Path,
    fmt: str,
    *,
    name: str | None = None,
    binary_cutoff: float | None = None,
) -> PairDataset:
    """Read a pair file in format *fmt* (one of :data:`FORMATS`) into a :class:`PairDataset`.

    *name* defaults to the file's stem. With *binary_cutoff*, data that has scores but no
    labels gets ``labels = score >= binary_cutoff``; a file's own labels are always kept.
    Raises DataError for a missing/unreadable/non-UTF-8 file, an unknown format, an empty
    file, any bad row (with its line) and data with neither scores nor labels.
    """
    p = Path(path)
    readers: dict[str, Callable[[Path, str], list[_Row]]] = {
        "jsonl": _read_jsonl,
        "stsb": _read_stsb,
        "mrpc": _read_mrpc,
        "csv": _read_csv,
    }
    if fmt not in readers:
        raise DataError(p, f"unknown data format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    if binary_cutoff is not None and not _is_finite_number(binary_cutoff):
        raise DataError(
            p,
            f"binary_cutoff must be a finite number, got {binary_cutoff!r}",
            "set binary_cutoff to a score threshold such as 4.0 (STS-B scale), or leave it unset",
        )
    rows = readers[fmt](p, _read_text(p))
    if not rows:
        raise DataError(
            p, "the file holds no sentence pairs", "point to a file with at least one pair"
        )

    s1 = [r.sentence1 for r in rows]
    s2 = [r.sentence2 for r in rows]
    has = {key: getattr(rows[0], key) is not None for key in _OPTIONAL}
    scores = np.array([r.score for r in rows], dtype=np.float64) if has["score"] else None
    labels = np.array([r.label for r in rows], dtype=np.int64) if has["label"] else None
    if scores is None and labels is None:
        raise DataError(
            p,
            "the rows have neither a 'score' nor a 'label' column, so there is nothing to evaluate",
            "add a graded 'score' or a 0/1 'label' to every row",
        )
    if labels is None and scores is not None and binary_cutoff is not None:
        labels = (scores >= binary_cutoff).astype(np.int64)
    splits = [r.split for r in rows] if has["split"] else None
    slices = [r.slice for r in rows] if has["slice"] else None
    return PairDataset.build(
        name if name is not None else p.stem,
        p,
        s1,
        s2,
        scores=scores,
        labels=labels,
        splits=splits,  # type: ignore[arg-type]
        slices=slices,  # type: ignore[arg-type]
    )


def read_sentences(path: str | Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped: one sentence per line (the probe
    sentences, a throughput corpus)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _is_finite_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool | str) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _read_text(path: Path) -> str:
    """Read *path* as strict UTF-8, dropping a leading byte-order mark."""
    try:
        data = path.read_bytes()
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


def _sentence(path: Path, line: int, column: str, value: Any) -> str:
    if not isinstance(value, str):
        raise DataError(
            path,
            f"{column} must be a string, got {_describe(value)}",
            f"write {column} as a JSON string",
            line=line,
        )
    if not value.strip():
        raise DataError(
            path,
            f"empty sentence in column {column!r}",
            "give every pair two non-empty sentences",
            line=line,
        )
    return value


def _score_text(path: Path, line: int, column: str, text: str) -> float:
    cell = text.strip()
    try:
        if "_" in cell:
            raise ValueError(cell)
        value = float(cell)
    except ValueError:
        raise DataError(
            path,
            f"score {text!r} in column {column!r} is not a number",
            "write the score as a decimal number such as 3.8",
            line=line,
        ) from None
    return _finite(path, line, column, value)


def _finite(path: Path, line: int, column: str, value: float) -> float:
    if not math.isfinite(value):
        raise DataError(
            path,
            f"score in column {column!r} is {value} (NaN or infinite)",
            "replace it with a finite number, or drop the row",
            line=line,
        )
    return value


def _label_text(path: Path, line: int, column: str, text: str) -> int:
    cell = text.strip()
    if cell not in ("0", "1"):
        raise DataError(
            path,
            f"label {text!r} in column {column!r} is not 0 or 1",
            "write labels as 0 (not a match) or 1 (match)",
            line=line,
        )
    return int(cell)


def _tag(path: Path, line: int, column: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(
            path,
            f"{column} must be a non-empty string, got {_describe(value)}",
            f"give every row a non-empty {column} name",
            line=line,
        )
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return f"{type(value).__name__} {json.dumps(value)[:40]}"


# --------------------------------------------------------------------------- formats


def _read_jsonl(path: Path, text: str) -> list[_Row]:
    """One JSON object per line; blank lines skipped; optional columns must be in every row."""
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in _lines(text):
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
        for column in ("sentence1", "sentence2"):
            if column not in obj:
                raise DataError(
                    path,
                    f"missing column {column!r}",
                    "give every row both 'sentence1' and 'sentence2'",
                    line=number,
                )
        records.append((number, obj))

    for column in _OPTIONAL:
        if any(column in obj for _, obj in records):
            missing = next((n for n, obj in records if column not in obj), None)
            if missing is not None:
                first = next(n for n, obj in records if column in obj)
                raise DataError(
                    path,
                    f"missing column {column!r}, which other rows have (e.g. line {first})",
                    f"give every row a {column!r} field, or remove it from all rows",
                    line=missing,
                )

    rows = []
    for number, obj in records:
        row = _Row(
            number,
            _sentence(path, number, "sentence1", obj["sentence1"]),
            _sentence(path, number, "sentence2", obj["sentence2"]),
        )
        if "score" in obj:
            value = obj["score"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise DataError(
                    path,
                    f"score must be a number, got {_describe(value)}",
                    "write the score as a JSON number such as 3.8 (no quotes)",
                    line=number,
                )
            row.score = _finite(path, number, "score", float(value))
        if "label" in obj:
            value = obj["label"]
            if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
                raise DataError(
                    path,
                    f"label must be 0 or 1, got {_describe(value)}",
                    "write labels as the JSON integers 0 or 1",
                    line=number,
                )
            row.label = int(value)
        if "split" in obj:
            row.split = _tag(path, number, "split", obj["split"])
        if "slice" in obj:
            row.slice = _tag(path, number, "slice", obj["slice"])
        rows.append(row)
    return rows


def _read_stsb(path: Path, text: str) -> list[_Row]:
    """STS Benchmark: tab-separated, no header, no quoting; columns 5-7 are score, s1, s2."""
    rows = []
    for number, line in _lines(text):
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
        rows.append(
            _Row(
                number,
                _sentence(path, number, "sentence1", cells[5]),
                _sentence(path, number, "sentence2", cells[6]),
                score=_score_text(path, number, "score", cells[4]),
            )
        )
    return rows


def _read_mrpc(path: Path, text: str) -> list[_Row]:
    """MRPC: tab-separated with a header; label from 'Quality', texts from '#1/#2 String'."""
    lines = _lines(text)
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
    index: dict[str, int] = {}
    for key, column in _MRPC_COLUMNS.items():
        if column not in header:
            raise DataError(
                path,
                f"missing column {column!r} in the header (found: {', '.join(map(repr, header))})",
                "use the MRPC header 'Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String'",
                line=header_line,
            )
        index[key] = header.index(column)
    rows = []
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
        rows.append(
            _Row(
                number,
                _sentence(path, number, "#1 String", cells[index["sentence1"]]),
                _sentence(path, number, "#2 String", cells[index["sentence2"]]),
                label=_label_text(path, number, "Quality", cells[index["label"]]),
            )
        )
    return rows


def _read_csv(path: Path, text: str) -> list[_Row]:
    """Comma-separated with a header: sentence1, sentence2 and optional score/label/split/slice."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last_line = 0

    def records() -> Iterator[tuple[int, list[str]]]:
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
                    f"malformed CSV ({exc})",
                    'quote fields that contain commas, quotes or line breaks ("a ""quoted"" word")',
                    line=start,
                ) from None
            last_line = reader.line_num
            if len(cells) > 1 or (cells and cells[0].strip()):  # skip blank lines
                yield start, cells

    it = records()
    first = next(it, None)
    if first is None:
        raise DataError(path, "the file is empty (no header line)", "point to a non-empty CSV file")
    header_line, raw_header = first
    header = [cell.strip() for cell in raw_header]
    for column in dict.fromkeys(header):
        if header.count(column) > 1:
            raise DataError(
                path,
                f"column {column!r} appears {header.count(column)} times in the header",
                "give every column a distinct name",
                line=header_line,
            )
    for column in ("sentence1", "sentence2"):
        if column not in header:
            raise DataError(
                path,
                f"missing column {column!r} in the header (found: {', '.join(map(repr, header))})",
                "start the file with a header such as 'sentence1,sentence2,score'",
                line=header_line,
            )
    col = {
        name: header.index(name)
        for name in ("sentence1", "sentence2", *_OPTIONAL)
        if name in header
    }
    rows = []
    for number, cells in it:
        if len(cells) != len(header):
            raise DataError(
                path,
                f"wrong number of columns: {len(cells)} comma-separated columns, "
                f"the header has {len(header)}",
                "quote fields that contain commas, and give every row one value per header column",
                line=number,
            )
        row = _Row(
            number,
            _sentence(path, number, "sentence1", cells[col["sentence1"]]),
            _sentence(path, number, "sentence2", cells[col["sentence2"]]),
        )
        if "score" in col:
            row.score = _score_text(path, number, "score", cells[col["score"]])
        if "label" in col:
            row.label = _label_text(path, number, "label", cells[col["label"]])
        if "split" in col:
            row.split = _tag(path, number, "split", cells[col["split"]])
        if "slice" in col:
            row.slice = _tag(path, number, "slice", cells[col["slice"]])
        rows.append(row)
    return rows
