"""Promotion: copy a checkpoint that passed its whole battery, merged into a standalone model.

Candidates are staged (merged and saved) while they are loaded; once the verdicts are final,
each complete PROMOTE is moved into `DIR/<name>/` with its gate record, and every other staged
model is deleted (an INCOMPLETE or REJECT is never promoted). Writes are atomic: a model
appears whole or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checkpoint.fingerprints import directory_fingerprint
from harness.run.verdicts import PROMOTE

if TYPE_CHECKING:
    from harness.checkpoint.load import LoadedCandidate

RECORD = "gate-record.json"


def safe_name(name: str) -> str:
    """A folder name for a checkpoint id (`checkpoint/adapter` becomes `checkpoint--adapter`)."""
    return name.replace("/", "--")


def staging_dir(promote_to: Path) -> Path:
    """Where candidates wait for their verdict: inside `promote_to`, so moving them is a rename."""
    return promote_to / ".staging"


def stage(candidate: LoadedCandidate, staging_dir: Path) -> Path:
    """Save the candidate as a standalone sentence-transformers model (merged if an adapter)."""
    target = staging_dir / safe_name(candidate.checkpoint.name)
    staging_dir.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    model = candidate.merged() if candidate.peft_model is not None else candidate.model
    model.save_pretrained(str(target))
    return target


def promote(results: dict[str, Any], staging_dir: Path, promote_to: Path) -> list[str]:
    """Move staged checkpoints with a complete PROMOTE into `promote_to`; delete the rest.
    Returns the names moved."""
    promoted = []
    promote_to.mkdir(parents=True, exist_ok=True)
    for checkpoint in results["checkpoints"]:
        staged = staging_dir / safe_name(checkpoint["name"])
        if not is_complete_promote(checkpoint) or not staged.is_dir():
            continue
        record = {
            "checkpoint": checkpoint,
            "complete": True,  # every check of its battery ran and passed
            "checks_passed": [c["check"] for c in checkpoint["checks"]],
            "model_fingerprint": directory_fingerprint(staged),
            "evaluations": [e for e in results["evaluations"] if e["model"] == checkpoint["name"]],
            "config": results["config"],
            "datasets": results["datasets"],
            "baselines": results["baselines"],
            "environment": results["environment"],
        }
        (staged / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _replace_dir(staged, promote_to / safe_name(checkpoint["name"]))
        promoted.append(checkpoint["name"])
    shutil.rmtree(staging_dir, ignore_errors=True)
    return promoted


def is_complete_promote(checkpoint: dict[str, Any]) -> bool:
    """A results.json checkpoint that may be promoted: PROMOTE, with no required check missing."""
    return checkpoint["verdict"] == PROMOTE and not checkpoint["missing_checks"]


def _replace_dir(source: Path, target: Path) -> None:
    """Put `source` at `target` by renames only; an older `target` is removed afterwards."""
    old = target.with_name(f".replaced-{target.name}")
    if target.exists():
        os.rename(target, old)
    os.rename(source, target)  # the staging folder lies inside promote_to: same file system
    shutil.rmtree(old, ignore_errors=True)
