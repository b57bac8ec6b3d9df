"""Read sentence-pair evaluation data (JSONL, JSON, CSV, TSV, Parquet, STS-B, MRPC) into one
validated form.

:func:`read_pairs` returns a :class:`PairDataset`; every format's records go through the same
checks. Any input the gate cannot use raises :class:`~harness.errors.DataError` naming the
file, the place (1-based physical line, JSON item or Parquet row), the problem and the fix.
Each data set carries a content fingerprint (SHA-256 over texts, scores, labels, splits and
slices) that does not depend on the file format, line endings or a byte-order mark, so
reports can prove which data a verdict was made on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError
from harness.quality.pair_files import FIXED_LAYOUTS, READERS, PairRecords, Place, read_records

__all__ = [
    "COLUMN_KEYS",
    "FORMATS",
    "MAPPED_FORMATS",
    "PairDataset",
    "read_pairs",
    "read_sentences",
]

FORMATS: tuple[str, ...] = tuple(READERS)
#: formats with a header (or field names), whose columns gate.toml may rename
MAPPED_FORMATS: tuple[str, ...] = tuple(f for f in FORMATS if f not in FIXED_LAYOUTS)
_REQUIRED = ("sentence1", "sentence2")
_OPTIONAL = ("score", "label", "split", "slice")
#: the columns a pair file may have, under these names unless gate.toml's columns renames them
COLUMN_KEYS: tuple[str, ...] = _REQUIRED + _OPTIONAL
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
    """One checked row before it is turned into columns."""

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
    columns: Mapping[str, str] | None = None,
    texts_only: bool = False,
) -> PairDataset:
    """Read a pair file in format *fmt* (one of :data:`FORMATS`) into a :class:`PairDataset`.

    *name* defaults to the file's stem. With *binary_cutoff*, data that has scores but no
    labels gets ``labels = score >= binary_cutoff``; a file's own labels are always kept.
    *columns* maps a key of :data:`COLUMN_KEYS` to the file's name for that column (e.g.
    ``{"score": "relatedness_score"}``); unmapped keys keep their own name. It applies to
    :data:`MAPPED_FORMATS` only. Raises DataError for a missing/unreadable/non-UTF-8 file, an
    unknown format, an empty file, any bad row (with its place) and data with neither scores
    nor labels (unless *texts_only*: training pairs, e.g. anchor and positive, need neither).
    """
    p = Path(path)
    if fmt not in FORMATS:
        raise DataError(p, f"unknown data format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    unknown = sorted(set(columns or {}) - set(COLUMN_KEYS))
    if unknown:
        raise DataError(
            p,
            f"columns names unknown key(s) {', '.join(map(repr, unknown))}",
            f"map only these keys to the file's column names: {', '.join(COLUMN_KEYS)}",
        )
    if columns and fmt not in MAPPED_FORMATS:
        raise DataError(
            p,
            f"format {fmt!r} has a fixed layout, so its columns cannot be renamed",
            f"remove columns, or use a format with a header: {', '.join(MAPPED_FORMATS)}",
        )
    if binary_cutoff is not None and not _is_finite_number(binary_cutoff):
        raise DataError(
            p,
            f"binary_cutoff must be a finite number, got {binary_cutoff!r}",
            "set binary_cutoff to a score threshold such as 4.0 (STS-B scale), or leave it unset",
        )
    found = read_records(p, fmt)
    if not found.records:
        raise DataError(
            p, "the file holds no sentence pairs", "point to a file with at least one pair"
        )
    rows = _rows(p, found, FIXED_LAYOUTS.get(fmt, dict(columns or {})))

    s1 = [r.sentence1 for r in rows]
    s2 = [r.sentence2 for r in rows]
    has = {key: getattr(rows[0], key) is not None for key in _OPTIONAL}
    scores = np.array([r.score for r in rows], dtype=np.float64) if has["score"] else None
    labels = np.array([r.label for r in rows], dtype=np.int64) if has["label"] else None
    if scores is None and labels is None and not texts_only:
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


# --------------------------------------------------------------------------- checking rows


def _rows(path: Path, found: PairRecords, mapping: Mapping[str, str]) -> list[_Row]:
    """Check every record of *found* and turn it into a row; *mapping* gives the file's name of
    each key's column (unmapped keys keep their own name, unless a mapped column took it)."""
    taken = set(mapping.values())
    names = {
        key: mapping.get(key, key)
        for key in COLUMN_KEYS
        if key in mapping or key in _REQUIRED or key not in taken
    }

    def missing(key: str, where: Place, found_names: str) -> DataError:
        column = names[key]
        if key in mapping and mapping[key] != key:
            return where.error(
                path,
                f"missing column {column!r}{found_names}; gate.toml's columns of this data "
                f'set reads {key} from it ({key} = "{column}")',
                f"set {key} in columns to the name the file gives that column, or add a "
                f"{column!r} column to the file",
            )
        return where.error(
            path,
            f"missing column {column!r}{found_names}",
            f"add a {column!r} column to every row, or name the file's column for {key} in "
            f'gate.toml: columns = {{ {key} = "..." }} in [datasets.NAME]',
        )

    records = found.records
    if found.header is not None:
        header, where = found.header
        for column in dict.fromkeys(header):
            if header.count(column) > 1:
                raise where.error(
                    path,
                    f"column {column!r} appears {header.count(column)} times in the header",
                    "give every column a distinct name",
                )
        listing = f" in the header (found: {', '.join(map(repr, header))})"
        for key in names:
            if names[key] not in header and (key in _REQUIRED or key in mapping):
                raise missing(key, where, listing)
        present = [key for key in _OPTIONAL if key in names and names[key] in header]
    else:
        for where, obj in records:
            for key in _REQUIRED:
                if names[key] not in obj:
                    raise missing(key, where, "")
        present = []
        for key in (k for k in _OPTIONAL if k in names):
            column = names[key]
            first = next((w for w, obj in records if column in obj), None)
            if first is None:
                if key in mapping:
                    raise missing(key, records[0][0], "")
                continue
            gap = next((w for w, obj in records if column not in obj), None)
            if gap is not None:
                raise gap.error(
                    path,
                    f"missing column {column!r}, which other rows have (e.g. {first})",
                    f"give every row a {column!r} field, or remove it from all rows",
                )
            present.append(key)

    check = _TEXT_CHECKS if found.text else _VALUE_CHECKS
    rows = []
    for where, obj in records:
        row = _Row(
            _sentence(path, where, names["sentence1"], obj[names["sentence1"]]),
            _sentence(path, where, names["sentence2"], obj[names["sentence2"]]),
        )
        for key in present:
            setattr(row, key, check[key](path, where, key, names[key], obj[names[key]]))
        rows.append(row)
    return rows


def _called(key: str, column: str) -> str:
    """How an error names a value: its key, and the file's column where that differs."""
    return key if key == column else f"{key} (column {column!r})"


def _sentence(path: Path, where: Place, column: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(
            path,
            f"{column} must be a string, got {_describe(value)}",
            f"write {column} as text (a JSON string, a Parquet string column)",
        )
    if not value.strip():
        raise where.error(
            path,
            f"empty sentence in column {column!r}",
            "give every pair two non-empty sentences",
        )
    return value


def _score_text(path: Path, where: Place, key: str, column: str, text: str) -> float:
    cell = text.strip()
    try:
        if "_" in cell:
            raise ValueError(cell)
        value = float(cell)
    except ValueError:
        raise where.error(
            path,
            f"score {text!r} in column {column!r} is not a number",
            "write the score as a decimal number such as 3.8",
        ) from None
    return _finite(path, where, column, value)


def _score_value(path: Path, where: Place, key: str, column: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise where.error(
            path,
            f"{_called(key, column)} must be a number, got {_describe(value)}",
            "write the score as a number such as 3.8 (in JSON: no quotes)",
        )
    return _finite(path, where, column, float(value))


def _finite(path: Path, where: Place, column: str, value: float) -> float:
    if not math.isfinite(value):
        raise where.error(
            path,
            f"score in column {column!r} is {value} (NaN or infinite)",
            "replace it with a finite number, or drop the row",
        )
    return value


def _label_text(path: Path, where: Place, key: str, column: str, text: str) -> int:
    cell = text.strip()
    if cell not in ("0", "1"):
        raise where.error(
            path,
            f"label {text!r} in column {column!r} is not 0 or 1",
            "write labels as 0 (not a match) or 1 (match)",
        )
    return int(cell)


def _label_value(path: Path, where: Place, key: str, column: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
        raise where.error(
            path,
            f"{_called(key, column)} must be 0 or 1, got {_describe(value)}",
            "write labels as the integers 0 or 1 (in JSON: no quotes, not true/false)",
        )
    return int(value)


def _tag(path: Path, where: Place, key: str, column: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(
            path,
            f"{_called(key, column)} must be a non-empty string, got {_describe(value)}",
            f"give every row a non-empty {key} name",
        )
    return value


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    try:
        shown = json.dumps(value)
    except (TypeError, ValueError):
        shown = repr(value)
    return f"{type(value).__name__} {shown[:40]}"


_Check = Callable[[Path, Place, str, str, Any], Any]
#: how each optional column is checked, for text cells and for typed values
_TEXT_CHECKS: dict[str, _Check] = {
    "score": _score_text,
    "label": _label_text,
    "split": _tag,
    "slice": _tag,
}
_VALUE_CHECKS: dict[str, _Check] = {
    "score": _score_value,
    "label": _label_value,
    "split": _tag,
    "slice": _tag,
}
