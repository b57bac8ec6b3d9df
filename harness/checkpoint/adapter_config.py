"""An adapter's `adapter_config.json`: every field the gate reads, type-checked where it is read,
so a malformed config is refused naming the field, what was found and the fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import CheckpointError

RESTORE = (
    "restore the values the adapter was trained with (save_pretrained writes them), or retrain it"
)


def _shown(value: Any) -> str:
    return json.dumps(value)[:80]


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _is_rank(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 1


def check_adapter_config(config_file: Path, config: Mapping[str, Any]) -> None:
    """The fields of any PEFT adapter the gate reads, and the LoRA fields PEFT needs, have
    usable types and values; all problems are listed at once."""
    problems = []
    for key in ("base_model_name_or_path", "revision", "task_type"):
        value = config.get(key)
        if value is not None and not (isinstance(value, str) and value):
            problems.append(f"{key} = {_shown(value)} must be a non-empty string or null")
    saved = config.get("modules_to_save")
    if saved is not None and not (
        isinstance(saved, list) and all(isinstance(m, str) for m in saved)
    ):
        problems.append(
            f"modules_to_save = {_shown(saved)} must be a list of module names or null"
        )
    if config.get("peft_type") == "LORA":
        problems += _lora_problems(config)
    if problems:
        raise CheckpointError(
            config_file, "has fields the gate or PEFT cannot use: " + "; ".join(problems), RESTORE
        )


def _lora_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    r = config.get("r")
    if not _is_rank(r):
        problems.append(f"r = {_shown(r)} must be a positive whole number (the LoRA rank)")
    alpha = config.get("lora_alpha")
    if not _is_number(alpha):
        problems.append(f"lora_alpha = {_shown(alpha)} must be a number (commonly 2 * r)")
    targets = config.get("target_modules")
    if targets is not None and not (
        isinstance(targets, str)
        or (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets))
    ):
        problems.append(
            f"target_modules = {_shown(targets)} must be a module name pattern or a "
            "non-empty list of module names"
        )
    for key, fits, what in (
        ("rank_pattern", _is_rank, "a positive whole number"),
        ("alpha_pattern", _is_number, "a number"),
    ):
        pattern = config.get(key)
        if pattern is None:
            continue
        if not isinstance(pattern, dict) or not all(fits(v) for v in pattern.values()):
            problems.append(
                f"{key} = {_shown(pattern)} must be an object of module name -> {what}"
            )
    return problems
