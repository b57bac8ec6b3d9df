"""The training record: the JSON file a training script leaves in the checkpoint folder (learning
rate, schedule, data, its own diagnostics), read, flattened to dotted paths and held to the
expectations of gate.toml's [training_record] table.

An expectation is one string: `PATH == VALUE`, `PATH >= NUMBER`, `PATH <= NUMBER`,
`PATH present` or `PATH non-empty`. PATH walks the record's objects by key
(`curriculum_learning.num_phases`); VALUE is a JSON value (`5e-6`, `true`, `"adamw"`, `null`).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from harness.checkpoint.checkpoint_files import CONFIG_JSON_LIMIT
from harness.errors import CheckpointError, ConfigError

EQUAL, AT_LEAST, AT_MOST, PRESENT, NON_EMPTY = "==", ">=", "<=", "present", "non-empty"
COMPARISONS = (EQUAL, AT_LEAST, AT_MOST)
WORDS = (PRESENT, NON_EMPTY)
FORMS = "PATH == VALUE, PATH >= NUMBER, PATH <= NUMBER, PATH present or PATH non-empty"
#: operators people reach for that the record does not support, and what to write instead
NOT_SUPPORTED = {
    "=": "write == for equality",
    "!=": "state the value it must have (PATH == VALUE)",
    ">": "write >= (at least)",
    "<": "write <= (at most)",
    "=>": "write >=",
    "=<": "write <=",
}
OPERATOR = re.compile(r"\s*(==|>=|<=|!=|=>|=<|=|>|<)\s*")
PATH = re.compile(r"[^\s.]+(\.[^\s.]+)*")
#: how many characters of a value a message shows
SHOWN = 80
_ABSENT = object()


@dataclass(frozen=True)
class Expectation:
    """One expectation on a record field: `path`, an operator, and the value (comparisons)."""

    path: str
    op: str
    value: Any = None

    def __str__(self) -> str:
        return f"{self.path} {self.op}" + (f" {show(self.value)}" if self.op in COMPARISONS else "")

    def miss(self, record: dict[str, Any]) -> str | None:
        """None when `record` meets it, else what it expected and what the record holds."""
        expected = self.op if self.op in WORDS else f"{self.op} {show(self.value)}"
        found = lookup(record, self.path)
        if found is _ABSENT:
            return f"{self.path}: expected {expected}, not in the record{_hint(record, self.path)}"
        if self.op == PRESENT:
            return None
        if self.op == NON_EMPTY:
            if not _empty(found):
                return None
            return f"{self.path}: expected non-empty, found {show(found)}"
        if self.op == EQUAL:
            if same(found, self.value):
                return None
            differs = kind(found) != kind(self.value)
            return f"{self.path}: expected {expected}, found {show(found)}" + (
                f" ({kind(found)}, not {kind(self.value)})" if differs else ""
            )
        if not is_number(found):
            what = f"{kind(found)}, not a number"
            return f"{self.path}: expected {expected}, found {show(found)} ({what})"
        meets = found >= self.value if self.op == AT_LEAST else found <= self.value
        if meets:
            return None
        return f"{self.path}: expected {expected}, found {show(found)}"


@dataclass(frozen=True)
class TrainingRecordSpec:
    """gate.toml's [training_record]: the record's file name in each checkpoint folder, whether
    every checkpoint must have one, and the expectations on its fields."""

    file: str
    required: bool = False
    expectations: tuple[Expectation, ...] = ()

    def applies(self, folder: Path) -> bool:
        """The check applies to a checkpoint that has the file, or to every one if required."""
        return self.required or (folder / self.file).exists()


@dataclass(frozen=True)
class TrainingRecord:
    """A checkpoint's training record as the gate read it: its fields by dotted path, and the
    expectations it missed, or why it could not be read."""

    file: Path
    fields: dict[str, Any] = field(default_factory=dict)
    expectations: int = 0
    misses: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "fields": self.fields,
            "expectations": self.expectations,
            "misses": list(self.misses),
            "error": self.error,
        }


def parse_expectation(text: str, source: Path | str, where: str) -> Expectation:
    """One expectation string of gate.toml (`where` names it, e.g. `[training_record] expect[0]`);
    a malformed one is a ConfigError saying which form to write."""
    def refuse(problem: str, fix: str) -> ConfigError:
        return ConfigError(source, f"{where} = {text!r}: {problem}", fix)

    stripped = text.strip()
    if not stripped:
        raise refuse("the expectation is empty", f"write one of {FORMS}")
    match = OPERATOR.search(stripped)
    word = next((w for w in WORDS if stripped.endswith(f" {w}")), None)
    if match is None and word is not None:
        path = stripped.removesuffix(word).strip()
        _check_path(path, refuse)
        return Expectation(path, word)
    if match is None:
        last = stripped.split()[-1]
        close = difflib.get_close_matches(last, WORDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close and " " in stripped else ""
        raise refuse("it has no operator", f"{hint}write one of {FORMS}")
    op = match.group(1)
    if op in NOT_SUPPORTED:
        raise refuse(f"'{op}' is not an operator here", f"{NOT_SUPPORTED[op]} ({FORMS})")
    path, raw = stripped[: match.start()], stripped[match.end() :]
    _check_path(path, refuse)
    if not raw:
        raise refuse(f"nothing follows '{op}'", f"give the value, e.g. {path or 'PATH'} {op} 1")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise refuse(
            f"{raw} is not a JSON value",
            f'quote a string (\'{path} {op} "{raw}"\' in TOML), or write a number, true, false or '
            "null",
        ) from None
    if op != EQUAL and not is_number(value):
        raise refuse(
            f"'{op}' compares numbers, and {raw} is {kind(value)}", f"give a number after {op}"
        )
    return Expectation(path, op, value)


def _check_path(path: str, refuse: Any) -> None:
    if not path:
        raise refuse("it names no field", f"start with the field's dotted path ({FORMS})")
    if not PATH.fullmatch(path):
        raise refuse(
            f"'{path}' is not a dotted path (an empty part, or a space inside it)",
            "name the field by its keys joined with dots, e.g. curriculum_learning.num_phases",
        )


def file_inside_folder(file: str) -> bool:
    """`file` is a path relative to a checkpoint folder that stays inside it."""
    parts = PurePath(file).parts
    return bool(parts) and not PurePath(file).is_absolute() and ".." not in parts


def read_record(path: Path) -> dict[str, Any]:
    """The record's JSON object; a file that cannot be read, is not JSON or holds no object is a
    CheckpointError naming it."""
    try:
        if path.stat().st_size > CONFIG_JSON_LIMIT:
            raise CheckpointError(
                path,
                f"the training record is {path.stat().st_size:,} bytes, over the 1 MB limit for "
                "a record (checked before it is read)",
                "keep the record to the training settings (no logs or data in it)",
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(
            path, "the training record is not UTF-8 text", "save it as UTF-8 JSON"
        ) from None
    except OSError as exc:
        raise CheckpointError(
            path,
            f"the training record cannot be read: {exc.strerror or exc}",
            "make it a readable JSON file",
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise CheckpointError(
            path, "the training record is JSON nested too deeply", "write it as one JSON object"
        ) from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            path,
            f"the training record is not valid JSON: {exc.msg} "
            f"(line {exc.lineno}, column {exc.colno})",
            "fix the JSON at that position, or point [training_record] file at the record the "
            "training script writes",
            line=exc.lineno,
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(
            path,
            f"the training record holds {kind(data)}, not an object of fields",
            'write it as one JSON object, e.g. {"learning_rate": 5e-06}',
        )
    return data


def examine(folder: Path, spec: TrainingRecordSpec) -> TrainingRecord:
    """The record in `folder` read, flattened and held to every expectation of `spec` (all
    misses, not the first); a record that is absent or unreadable carries why."""
    path = folder / spec.file
    try:
        if not path.exists():
            raise CheckpointError(
                path,
                "the checkpoint has no training record, and [training_record] required = true",
                f"save the training record as {spec.file} in the checkpoint folder, or set "
                "required = false in [training_record] to gate checkpoints without one",
            )
        record = read_record(path)
    except CheckpointError as exc:
        return TrainingRecord(path, expectations=len(spec.expectations), error=str(exc))
    misses = tuple(m for e in spec.expectations if (m := e.miss(record)) is not None)
    return TrainingRecord(path, flatten(record), len(spec.expectations), misses)


def check_training_record(name: str, record: TrainingRecord) -> str | None:
    """None when the record was read and meets every expectation, else what went wrong."""
    if record.error is not None:
        return f"{name}: {record.error}"
    if not record.misses:
        return None
    listed = "\n".join(f"  - {miss}" for miss in record.misses)
    return (
        f"{name}: the training record {record.file} misses {len(record.misses)} of "
        f"{record.expectations} expectation(s) of [training_record] in gate.toml:\n{listed}"
    )


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of the record by dotted path; a list is one value, an empty object too."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def lookup(record: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or a sentinel where the record has none."""
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _hint(record: dict[str, Any], path: str) -> str:
    """A field of the same name elsewhere in the record, or one spelled alike."""
    by_name: dict[str, str] = {}
    for known in flatten(record):
        by_name.setdefault(known.rsplit(".", 1)[-1], known)
    name = path.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.8)
    return f" (did you mean {by_name[close[0]]}?)" if close else ""


def is_number(value: Any) -> bool:
    """An int or float, never a bool (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(found: Any, expected: Any) -> bool:
    """Equal as JSON values: numbers to 1e-9 relative (5e-06 is 0.000005), a bool never a number."""
    if is_number(found) and is_number(expected):
        return found == expected or math.isclose(found, expected, rel_tol=1e-9)
    return json.dumps(found, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def kind(value: Any) -> str:
    """The JSON kind of a value, as a message says it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def show(value: Any) -> str:
    """A value as JSON, cut to SHOWN characters."""
    text = json.dumps(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
