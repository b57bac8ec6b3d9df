"""The zoo of bad inputs the gate must refuse, built at test time (no binary blobs committed).

Checkpoint builders take a good adapter (a copy of the session-built one) or a folder and
return the broken checkpoint; data builders write one bad pair file and return its path.
Each builder breaks exactly one thing. `tiny_gating_set` sets a gate project up with a small
valid data set that is reported on, not refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from checkpoint_folders import write_sparse_safetensors  # noqa: E402
from factories import (  # noqa: E402
    copy_checkpoint,
    edit_adapter_config,
    fake_training,
    lora_config,
)
from safetensors.torch import load_file, save_file  # noqa: E402

from harness.checkpoint.discover import (  # noqa: E402
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    PICKLED,
)
from harness.checkpoint.packaged_models import MINILM_HUB_ID  # noqa: E402
from harness.checkpoint.preflight import PEFT_PREFIX  # noqa: E402

if TYPE_CHECKING:
    from gate_project import GateProject


# ---- checkpoints ----------------------------------------------------------------------------


def truncated_weights(good: Path, path: Path) -> Path:
    """The adapter file cut in half, as an interrupted copy leaves it (the header survives)."""
    folder = copy_checkpoint(good, path)
    weights = folder / ADAPTER_WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return folder


def corrupt_weights(good: Path, path: Path) -> Path:
    """The adapter file's first kilobyte overwritten with junk (no readable header)."""
    folder = copy_checkpoint(good, path)
    weights = folder / ADAPTER_WEIGHTS
    data = weights.read_bytes()
    weights.write_bytes(b"\x93NOT SAFETENSORS" * 64 + data[1024:])
    return folder


def without_config(good: Path, path: Path) -> Path:
    """Adapter weights (and modules.json) but no adapter_config.json."""
    folder = copy_checkpoint(good, path)
    (folder / ADAPTER_CONFIG).unlink()
    return folder


def invalid_config(good: Path, path: Path) -> Path:
    """adapter_config.json that is not JSON (a merge conflict left in it)."""
    folder = copy_checkpoint(good, path)
    config = folder / ADAPTER_CONFIG
    config.write_text("<<<<<<< HEAD\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def unusable_rank(good: Path, path: Path) -> Path:
    """adapter_config.json that is JSON but whose LoRA rank PEFT cannot use."""
    return edit_adapter_config(copy_checkpoint(good, path), r="eight")


def non_finite_weights(good: Path, path: Path) -> Path:
    """One lora_A entry NaN and one lora_B entry Inf, as a diverged fp16 run saves them."""
    folder = copy_checkpoint(good, path)
    weights = folder / ADAPTER_WEIGHTS
    tensors = load_file(str(weights))
    a_key = next(k for k in sorted(tensors) if "lora_A" in k)
    b_key = next(k for k in sorted(tensors) if "lora_B" in k)
    tensors[a_key][0, 0] = float("nan")
    tensors[b_key][0, 0] = float("inf")
    save_file(tensors, str(weights), metadata={"format": "pt"})
    return folder


def other_base_adapter(path: Path, *, hidden_size: int = 64) -> Path:
    """A LoRA trained on another base (a tiny random BERT, hidden size 64, no download) whose
    config claims all-MiniLM-L6-v2 (hidden size 384): every tensor has the wrong shape."""
    from peft import get_peft_model
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    bert = BertModel(
        BertConfig(
            hidden_size=hidden_size,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=4 * hidden_size,
            vocab_size=1000,
        )
    )
    peft_model = get_peft_model(bert, lora_config())
    fake_training(peft_model)
    peft_model.save_pretrained(str(path))
    return edit_adapter_config(path, base_model_name_or_path=MINILM_HUB_ID)


def unknown_base(good: Path, path: Path, base: str = "acme/never-downloaded-encoder") -> Path:
    """An adapter for a hub id that is neither an alias nor a local folder."""
    return edit_adapter_config(copy_checkpoint(good, path), base_model_name_or_path=base)


class _Payload:
    """Unpickling this runs `code` (the classic pickle exploit, here: write a marker file)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (self.code,))


def write_pickle_payload(file: Path, marker: Path) -> Path:
    """A torch.save file of real-looking adapter weights plus a payload that creates `marker`
    when the file is unpickled (torch.load with weights_only=False, as PEFT's fallback does)."""
    code = f"open({str(marker)!r}, 'w').write('the payload ran')"
    key = f"{PEFT_PREFIX}encoder.layer.0.attention.self.query.lora_A.weight"
    torch.save({key: torch.zeros(8, 384), "payload": _Payload(code)}, str(file))
    return file


def pickled_adapter(good: Path, path: Path, marker: Path) -> Path:
    """adapter_model.bin (a pickle with a code-running payload) instead of safetensors."""
    folder = copy_checkpoint(good, path)
    (folder / ADAPTER_WEIGHTS).unlink()
    write_pickle_payload(folder / PICKLED, marker)
    return folder


def both_weight_files(good: Path, path: Path, marker: Path) -> Path:
    """adapter_model.safetensors and adapter_model.bin side by side: which one is meant?"""
    folder = copy_checkpoint(good, path)
    write_pickle_payload(folder / PICKLED, marker)
    return folder


# ---- checkpoints that say more than they should: paths, sizes, malformed files ----------------


def _edit_modules(folder: Path, index: int, **changes: object) -> Path:
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    modules[index].update(changes)
    modules_file.write_text(json.dumps(modules), encoding="utf-8")
    return folder


def module_path_leaves(good: Path, path: Path) -> Path:
    """modules.json sends the Pooling module to `../escaped`, a folder beside the checkpoint."""
    return _edit_modules(copy_checkpoint(good, path), 1, path="../escaped")


def module_path_absolute(good: Path, path: Path) -> Path:
    """modules.json sends the Pooling module to an absolute path."""
    return _edit_modules(copy_checkpoint(good, path), 1, path="/etc")


def weights_link_outside(good: Path, path: Path) -> Path:
    """The adapter file is a link to a copy kept outside the checkpoint folder."""
    folder = copy_checkpoint(good, path)
    outside = path.parent.parent / f"{path.name}-weights.safetensors"
    (folder / ADAPTER_WEIGHTS).rename(outside)
    (folder / ADAPTER_WEIGHTS).symlink_to(outside)
    return folder


def adapter_folder_link_outside(good: Path, path: Path) -> Path:
    """A named adapter's folder (PEFT's layout for several adapters) links outside."""
    folder = copy_checkpoint(good, path)
    outside = copy_checkpoint(good, path.parent.parent / f"{path.name}-second")
    (folder / "second").symlink_to(outside, target_is_directory=True)
    return folder


def record_link_outside(good: Path, path: Path) -> Path:
    """The training record is a link to a file outside the checkpoint folder."""
    folder = copy_checkpoint(good, path)
    outside = path.parent.parent / f"{path.name}-train_settings.json"
    outside.write_text("{}", encoding="utf-8")
    (folder / "train_settings.json").symlink_to(outside)
    return folder


def sparse_weights(good: Path, path: Path) -> Path:
    """adapter_model.safetensors declaring one float32 tensor of 4 GB, as a sparse file."""
    folder = copy_checkpoint(good, path)
    write_sparse_safetensors(folder / ADAPTER_WEIGHTS, 1024**3)
    return folder


def oversized_config(good: Path, path: Path) -> Path:
    """adapter_config.json padded to 2 MB (valid JSON): over the 1 MB a config may be."""
    folder = copy_checkpoint(good, path)
    config = folder / ADAPTER_CONFIG
    config.write_text(config.read_text(encoding="utf-8") + " " * 2 * 1024 * 1024, encoding="utf-8")
    return folder


def config_is_a_folder(good: Path, path: Path) -> Path:
    folder = copy_checkpoint(good, path)
    (folder / ADAPTER_CONFIG).unlink()
    (folder / ADAPTER_CONFIG).mkdir()
    return folder


def deeply_nested_config(good: Path, path: Path) -> Path:
    """adapter_config.json nested 100,000 levels deep (Python's JSON parser recurses)."""
    folder = copy_checkpoint(good, path)
    (folder / ADAPTER_CONFIG).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    return folder


def base_is_a_number(good: Path, path: Path) -> Path:
    return edit_adapter_config(copy_checkpoint(good, path), base_model_name_or_path=3)


def rank_pattern_is_a_list(good: Path, path: Path) -> Path:
    return edit_adapter_config(copy_checkpoint(good, path), rank_pattern=["query", 16])


def modules_to_save_is_a_number(good: Path, path: Path) -> Path:
    return edit_adapter_config(copy_checkpoint(good, path), modules_to_save=3)


def modules_not_json(good: Path, path: Path) -> Path:
    folder = copy_checkpoint(good, path)
    (folder / "modules.json").write_text("[{'idx': 0}", encoding="utf-8")
    return folder


def garbage_tokenizer(good: Path, path: Path) -> Path:
    folder = copy_checkpoint(good, path)
    (folder / "tokenizer.json").write_bytes(b"\x00garbage" * 100)
    return folder


# ---- data -----------------------------------------------------------------------------------


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def pair_rows(n: int = 12, *, split: str | None = None, label: int | None = None) -> list[dict]:
    """`n` valid pairs, alternating labels 1/0 (or all `label`), scores to match."""
    rows = []
    for i in range(n):
        positive = (i % 2 == 0) if label is None else bool(label)
        row = {
            "sentence1": f"the vpn drops every {i + 2} minutes on the office wifi",
            "sentence2": f"vpn keeps disconnecting after {i + 2} minutes"
            if positive
            else f"printer {i} on floor two is out of paper",
            "score": 4.0 if positive else 0.5,
            "label": int(positive),
        }
        if split:
            row["split"] = split
        rows.append(row)
    return rows


def missing_column(folder: Path) -> Path:
    """Line 3 has no sentence2."""
    rows = pair_rows(6)
    del rows[2]["sentence2"]
    path = folder / "missing_column.jsonl"
    path.write_text(_jsonl(rows), encoding="utf-8")
    return path


def non_numeric_score(folder: Path) -> Path:
    """A CSV whose score on line 3 (the second data row) is a word."""
    path = folder / "non_numeric_score.csv"
    path.write_text(
        "sentence1,sentence2,score\n"
        "vpn drops,vpn disconnects,4.5\n"
        "printer jammed,paper stuck in printer,high\n",
        encoding="utf-8",
    )
    return path


def bad_label(folder: Path) -> Path:
    """Line 2 carries label 2."""
    rows = pair_rows(6)
    rows[1]["label"] = 2
    path = folder / "bad_label.jsonl"
    path.write_text(_jsonl(rows), encoding="utf-8")
    return path


def one_class(folder: Path) -> Path:
    """Every pair is a positive: ROC-AUC, F1 and the FP rate are undefined."""
    path = folder / "one_class.jsonl"
    path.write_text(_jsonl(pair_rows(8, label=1)), encoding="utf-8")
    return path


def one_class_calibration(folder: Path) -> Path:
    """Calibration and test splits; every calibration pair is a positive, so the best-F1
    threshold cannot be picked."""
    calibration = pair_rows(6, split="calibration", label=1)
    test = [
        {**row, "sentence1": row["sentence1"].replace("vpn", "VPN client")}
        for row in pair_rows(12, split="test")
    ]
    path = folder / "one_class_calibration.jsonl"
    path.write_text(_jsonl(calibration + test), encoding="utf-8")
    return path


def constant_scores(folder: Path) -> Path:
    """Graded pairs that all carry score 3.0: Spearman and Pearson are undefined."""
    rows = [{k: v for k, v in row.items() if k != "label"} | {"score": 3.0} for row in pair_rows(8)]
    path = folder / "constant_scores.jsonl"
    path.write_text(_jsonl(rows), encoding="utf-8")
    return path


def no_calibration(folder: Path) -> Path:
    """Labelled pairs and no calibration part: the best-F1 threshold has nothing to be picked on."""
    path = folder / "no_calibration.jsonl"
    path.write_text(_jsonl(pair_rows(8)), encoding="utf-8")
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    return path


def not_utf8(folder: Path) -> Path:
    """Latin-1 bytes on line 2 ("café" written by a tool that is not UTF-8)."""
    path = folder / "not_utf8.jsonl"
    first = _jsonl(pair_rows(1)).encode("utf-8")
    second = '{"sentence1": "caf\xe9 wifi down", "sentence2": "no wifi", "score": 4.0, "label": 1}'
    path.write_bytes(first + second.encode("latin-1") + b"\n")
    return path


#: far more than all-MiniLM-L6-v2's max_seq_length (256 tokens)
LONG_TEXT = "the shared drive mapping fails after the overnight patch " * 40


def duplicates_and_long_texts(folder: Path) -> Path:
    """A small valid data set (calibration and test splits, both classes in each) whose test
    split holds 2 duplicate pairs and 1 text far beyond the model's maximum length."""
    calibration = pair_rows(10, split="calibration")
    test = [
        {**row, "sentence1": row["sentence1"].replace("vpn", "VPN client")}
        for row in pair_rows(12, split="test")
    ]
    test[3]["sentence2"] = LONG_TEXT
    test += [dict(test[0]), dict(test[1])]  # the same ordered pairs again
    path = folder / "tiny_with_duplicates.jsonl"
    path.write_text(_jsonl(calibration + test), encoding="utf-8")
    return path


def shared_pairs(folder: Path) -> Path:
    """Calibration and test splits that share 2 pairs, the first with its sentences swapped."""
    calibration = pair_rows(10, split="calibration")
    test = [
        {**row, "sentence1": row["sentence1"].replace("vpn", "VPN client")}
        for row in pair_rows(12, split="test")
    ]
    swapped = {"sentence1": calibration[0]["sentence2"], "sentence2": calibration[0]["sentence1"]}
    test += [{**calibration[0], **swapped, "split": "test"}, {**calibration[1], "split": "test"}]
    path = folder / "shared_pairs.jsonl"
    path.write_text(_jsonl(calibration + test), encoding="utf-8")
    return path


def tiny_gating_set(project: GateProject, more_tables: str = "") -> Path:
    """The project gates one small valid data set (2 duplicate pairs, 1 over-long text) with
    targets anything meets; `more_tables`: other [datasets.*] tables after its own."""
    project.relax_targets()
    project.fewer_resamples()
    data = duplicates_and_long_texts(project.path)
    project.replace_datasets(
        f'[datasets.tiny]\nrole = "gate"\npath = "{data.as_posix()}"\nformat = "jsonl"\n'
        'calibration_split = "calibration"\ntest_split = "test"\n' + more_tables
    )
    return data
