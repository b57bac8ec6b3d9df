"""Per-module change profile: how much an adapter changes each module it adapts.

For each adapted module, the Frobenius norm of its weight update relative to the base
weight's norm:

- LoRA (rsLoRA too): the update is `scaling * B @ A` (PEFT's `get_delta_weight`, which applies
  the scaling each variant uses: `lora_alpha / r`, or `lora_alpha / sqrt(r)` for rsLoRA);
- DoRA: the effective weight minus the base, `m / ||W + dW||_row * (W + dW) - W`, computed here
  from the magnitude vector `m` and `dW = get_delta_weight` (not through PEFT's merge, which
  this profile must not depend on);
- `modules_to_save`: the saved copy's parameters minus the base module's.

A module whose relative update is at most ZERO_RELATIVE_UPDATE is unchanged: an update that
small vanishes when added to float32 weights (float32 resolves 2**-23 = 1.2e-7 relative).
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from harness.checkpoint.preflight import LAYER_INDEX, PEFT_PREFIX

if TYPE_CHECKING:
    import torch
    from peft.utils.other import ModulesToSaveWrapper

#: a relative update at or below this is zero (below float32 resolution, so merging it is a no-op)
ZERO_RELATIVE_UPDATE = 1e-7


@dataclass(frozen=True)
class ModuleChange:
    """One adapted module's weight update."""

    module: str
    kind: str  # lora | dora | modules_to_save
    layer: int | None
    update_norm: float
    base_norm: float

    @property
    def relative_update(self) -> float:
        if self.base_norm == 0:
            return math.inf if self.update_norm else 0.0
        return self.update_norm / self.base_norm

    @property
    def changed(self) -> bool:
        return self.relative_update > ZERO_RELATIVE_UPDATE


@dataclass
class ChangeProfile:
    """Every adapted module's relative update, in module order."""

    adapter_name: str
    modules: list[ModuleChange] = field(default_factory=list)

    @property
    def changed(self) -> list[ModuleChange]:
        return [m for m in self.modules if m.changed]

    @property
    def unchanged(self) -> list[str]:
        return [m.module for m in self.modules if not m.changed]

    @property
    def changed_fraction(self) -> float:
        return len(self.changed) / len(self.modules) if self.modules else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (results.json `change_profile`)."""
        ordered = sorted(self.modules, key=lambda m: m.relative_update)
        smallest, largest = (ordered[0], ordered[-1]) if ordered else (None, None)
        return {
            "adapter_name": self.adapter_name,
            "n_modules": len(self.modules),
            "n_changed": len(self.changed),
            "zero_threshold": ZERO_RELATIVE_UPDATE,
            "min_relative_update": smallest.relative_update if smallest else None,
            "min_module": smallest.module if smallest else None,
            "max_relative_update": largest.relative_update if largest else None,
            "max_module": largest.module if largest else None,
            "unchanged": self.unchanged,
            "modules": [{**asdict(m), "relative_update": m.relative_update} for m in self.modules],
        }


def _layer(name: str) -> int | None:
    found = LAYER_INDEX.search(name)
    return int(found.group(1)) if found else None


def _dora_delta(layer: Any, adapter: str, base: torch.Tensor, delta: torch.Tensor):
    """Effective DoRA weight minus the base, for a linear layer (weights as [out, in])."""
    import torch

    fan_in_fan_out = getattr(layer, "fan_in_fan_out", False)
    weight = base.T if fan_in_fan_out else base
    lora = delta.T if fan_in_fan_out else delta
    magnitude = layer.lora_magnitude_vector[adapter].weight.detach().float()
    combined = weight + lora
    effective = (magnitude / torch.linalg.norm(combined, dim=1)).view(-1, 1) * combined
    change = effective - weight
    return change.T if fan_in_fan_out else change


def _lora_change(name: str, layer: Any, adapter: str) -> ModuleChange:
    """One LoRA layer's weight change (`layer` is a peft LoraLayer; nn.Module attributes are
    dynamic, hence Any)."""
    import torch

    base = layer.get_base_layer().weight.detach().float()
    dora = adapter in getattr(layer, "lora_magnitude_vector", {})
    with torch.no_grad():
        if dora and isinstance(layer.get_base_layer(), torch.nn.Linear):
            delta = _dora_delta(layer, adapter, base, layer.get_delta_weight(adapter).float())
        elif dora:  # DoRA on another layer type (embedding, conv): PEFT's merge on a copy
            scratch = copy.deepcopy(layer)
            scratch.merge(adapter_names=[adapter])
            delta = scratch.get_base_layer().weight.detach().float() - base
        else:
            delta = layer.get_delta_weight(adapter).float()
    module = name.removeprefix(PEFT_PREFIX)
    return ModuleChange(
        module=module,
        kind="dora" if dora else "lora",
        layer=_layer(module),
        update_norm=float(torch.linalg.norm(delta)),
        base_norm=float(torch.linalg.norm(base)),
    )


def _saved_change(name: str, wrapper: ModulesToSaveWrapper, adapter: str) -> ModuleChange:
    import torch

    original = dict(wrapper.original_module.named_parameters())
    saved = dict(wrapper.modules_to_save[adapter].named_parameters())
    update = sum(
        float(torch.sum((saved[k].detach().float() - original[k].detach().float()) ** 2))
        for k in saved
    )
    base = sum(float(torch.sum(p.detach().float() ** 2)) for p in original.values())
    module = name.removeprefix(PEFT_PREFIX)
    return ModuleChange(
        module, "modules_to_save", _layer(module), math.sqrt(update), math.sqrt(base)
    )


def change_profile(peft_model: torch.nn.Module, adapter_name: str = "default") -> ChangeProfile:
    """The relative update of every module `adapter_name` adapts or saves, in module order."""
    from peft.tuners.lora import LoraLayer
    from peft.utils.other import ModulesToSaveWrapper

    profile = ChangeProfile(adapter_name)
    for name, module in peft_model.named_modules():
        if isinstance(module, LoraLayer) and (
            adapter_name in module.lora_A or adapter_name in module.lora_embedding_A
        ):
            profile.modules.append(_lora_change(name, module, adapter_name))
        elif isinstance(module, ModulesToSaveWrapper) and adapter_name in module.modules_to_save:
            profile.modules.append(_saved_change(name, module, adapter_name))
    return profile
