"""Check a model that a team's own code loaded: the gate proves its own loader, this proves
theirs. The model passes when every tensor of the adapter file is in it with equal values
(and every adapter tensor it has came from the file), and its embeddings differ from the
base's; otherwise `AdapterNotApplied` carries the gate's diagnosis.

The model may be a SentenceTransformer (its transformer wrapped by PEFT, or given adapters by
`add_adapter`/`load_adapter`), a PeftModel around its inner transformer, or a PeftModel around
the whole SentenceTransformer (the loading path that shipped three no-op adapters).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.checkpoint.checks import check_changes_embeddings, check_loaded_exactly
from harness.checkpoint.discover import Checkpoint, read_checkpoint, resolve_base
from harness.checkpoint.load import LoadedCandidate, load_sentence_transformer, verify_adapter_load
from harness.checkpoint.weights_files import read_adapter_file
from harness.config import EffectSpec

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

#: encoded by the model and its base when no probe is given: short texts of the kind the gate
#: exists for, and a few others
DEFAULT_PROBE = (
    "VPN disconnects every few minutes after the client update",
    "Users cannot log in to the VPN since this morning",
    "Printer on the third floor shows a paper jam but has no paper stuck",
    "Email attachments larger than 10 MB bounce back",
    "The database backup job failed with a disk full error",
    "Laptop battery drains within an hour",
    "Password reset link expired before the user could open it",
    "The payroll application is slow at the end of the month",
    "A man is playing a guitar on the street",
    "The cat sleeps on the warm windowsill",
    "Stock markets fell sharply after the announcement",
    "How do I change the language of my keyboard?",
)
#: the gate's default [effect] tolerances (no probe file: the probe is passed as texts)
DEFAULT_EFFECT = EffectSpec(Path("-"))


class AdapterNotApplied(AssertionError):
    """The model does not hold the adapter as its file saved it, or does not use it."""


def assert_adapter_applied(
    model: Any,
    adapter_dir: str | Path,
    *,
    base: SentenceTransformer | str | Path | None = None,
    probe: Sequence[str] = DEFAULT_PROBE,
    aliases: dict[str, Path] | None = None,
    effect: EffectSpec = DEFAULT_EFFECT,
) -> None:
    """Raise AdapterNotApplied, with the diagnosis, unless `model` holds every tensor of
    `adapter_dir`'s adapter file unchanged and encodes `probe` differently from its base.

    `base`: the base model (a SentenceTransformer or a local folder); by default the one the
    adapter's `base_model_name_or_path` names, resolved offline as the gate resolves it
    (`aliases`: gate.toml's [aliases]). Nothing is downloaded.
    """
    checkpoint = read_checkpoint(adapter_dir)
    if not checkpoint.is_adapter:
        raise ValueError(f"{adapter_dir} holds no adapter (no adapter_config.json)")
    adapter = read_adapter_file(checkpoint.adapter_file)
    holder, st = _adapter_holder(model)
    if not hasattr(holder, "peft_config"):
        raise AdapterNotApplied(
            f"{checkpoint.name}: the model holds no adapter at all: none of the "
            f"{len(adapter.tensors)} tensors of {checkpoint.adapter_file} is in it (the serving "
            "code never loaded it); load it with PeftModel.from_pretrained(st[0].model, "
            "adapter_dir)"
        )
    report = verify_adapter_load(holder, adapter, checkpoint.adapter_name)
    device = str(next(holder.parameters()).device)
    base_st = _base(base, checkpoint, aliases or {}, device)
    if st is None:  # a PeftModel around the inner transformer: serve it in its base's pipeline
        st = copy.deepcopy(base_st)
        st[0].model = holder
    candidate = LoadedCandidate(checkpoint, st, load_report=report)
    texts = list(probe)
    problems = [
        check_loaded_exactly(candidate),
        check_changes_embeddings(candidate, _encode(base_st, texts), _encode(st, texts), effect),
    ]
    found = [p for p in problems if p]
    if found:
        raise AdapterNotApplied("\n\n".join(found))


def _adapter_holder(model: Any) -> tuple[torch.nn.Module, SentenceTransformer | None]:
    """(the module whose state dict holds the adapter, the SentenceTransformer that encodes
    with it, None if the model is only a transformer)."""
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

    if isinstance(model, SentenceTransformer):
        return cast("torch.nn.Module", model[0].model), model
    if isinstance(model, PeftModel):
        inner = model.base_model.model
        if isinstance(inner, SentenceTransformer):
            return model, inner  # PEFT around the whole SentenceTransformer
        return model, None
    raise TypeError(
        f"expected a SentenceTransformer or a PeftModel, got {type(model).__name__}: pass the "
        "model as the serving code loaded it"
    )


def _base(
    base: SentenceTransformer | str | Path | None,
    checkpoint: Checkpoint,
    aliases: dict[str, Path],
    device: str,
) -> SentenceTransformer:
    """The base given, or the one the adapter names (at its revision), resolved offline."""
    from sentence_transformers import SentenceTransformer

    if isinstance(base, SentenceTransformer):
        return base
    if base is None:
        if checkpoint.base_id is None:
            raise ValueError(f"{checkpoint.path}: adapter_config.json names no base; pass base=")
        base = resolve_base(
            checkpoint.base_id, aliases, source=checkpoint.path, revision=checkpoint.base_revision
        ).path
    return load_sentence_transformer(base, device)


def _encode(model: SentenceTransformer, texts: list[str]) -> Any:
    import torch

    with torch.inference_mode():
        return model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
