"""Where a checkpoint's training pairs are: the file [leakage] names for every checkpoint, or the
one its training record names (a field such as `data.file`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.analysis_config import LeakageSpec
from harness.checkpoint.training_record import lookup, read_record
from harness.errors import CheckpointError


@dataclass(frozen=True)
class TrainingPairsFile:
    """A checkpoint's training pairs file and where the gate learned of it."""

    path: Path
    source: str  # "[leakage] path in gate.toml" | "<record> field <field>"


def leakage_applies(folder: Path, spec: LeakageSpec) -> bool:
    """Whether the leakage check applies to the checkpoint in `folder`: gate.toml names one
    file for every checkpoint, the checkpoint has the training record that names its file, or
    [leakage] required = true."""
    return spec.required or spec.path is not None or (folder / spec.record).is_file()


def find_training_pairs(folder: Path, spec: LeakageSpec) -> TrainingPairsFile:
    """The training pairs file of the checkpoint in `folder`; a record without the field, or a
    file that does not exist, is a CheckpointError saying where to put it."""
    if spec.path is not None:
        found = TrainingPairsFile(spec.path, "[leakage] path in gate.toml")
    else:
        record_path = folder / spec.record
        if not record_path.is_file():
            raise CheckpointError(
                record_path,
                "the checkpoint has no training record to name its training pairs, and "
                "[leakage] required = true",
                f"save the record as {spec.record} with the field {spec.record_field}, or set "
                "[leakage] path to the training pairs file",
            )
        assert spec.record_field is not None
        value = lookup(read_record(record_path), spec.record_field)
        if not isinstance(value, str) or not value.strip():
            raise CheckpointError(
                record_path,
                f"the training record has no path at {spec.record_field} ([leakage] "
                "record_field): the training pairs to check for leakage are unknown",
                f"write the training pairs file's path to {spec.record_field} in the record, or "
                "set [leakage] path in gate.toml",
            )
        base = spec.relative_to if spec.relative_to is not None else folder
        path = Path(value).expanduser()
        found = TrainingPairsFile(
            path if path.is_absolute() else base / path,
            f"{spec.record} field {spec.record_field}",
        )
    if not found.path.is_file():
        raise CheckpointError(
            found.path,
            f"the training pairs file does not exist (from {found.source})",
            "correct the path; a relative path in the record is relative to [leakage] "
            "relative_to (default: the checkpoint folder)",
        )
    return found
