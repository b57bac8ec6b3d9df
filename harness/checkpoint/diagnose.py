"""Why an adapter changes nothing: missing keys, untrained B, zero scaling, disabled layers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from harness.checkpoint.load import LoadReport
from harness.checkpoint.safetensors_files import AdapterWeights

if TYPE_CHECKING:
    import torch

WRAPPER_PREFIXES = ("0.model.", "0.auto_model.", "model.", "auto_model.")


def key_prefix_mismatch(report: LoadReport) -> str | None:
    """Explain missing/unexpected keys that differ only by a leading prefix (a wrapper's name)."""
    if not (report.missing and report.unexpected):
        return None
    file_key, model_key = report.unexpected[0], report.missing[0]
    common = os.path.commonprefix([file_key[::-1], model_key[::-1]])[::-1]
    if not all(key == common or key.endswith("." + common) for key in (file_key, model_key)):
        common = common[common.find(".") + 1 :] if "." in common else common  # whole names only
    if not common:
        return None
    file_prefix = file_key[: len(file_key) - len(common)]
    model_prefix = model_key[: len(model_key) - len(common)]
    if len(model_prefix) > len(file_prefix):
        return (
            f"the model's adapter keys carry an extra prefix '{model_prefix}' that the file's keys "
            f"lack (file: '{file_key}', model: '{model_key}'): the adapter was applied to a "
            "wrapper, "
            "e.g. PeftModel.from_pretrained(SentenceTransformer(...)). Load it onto the inner "
            "transformer: PeftModel.from_pretrained(st[0].model, adapter_dir)"
        )
    return (
        f"the file's keys carry a prefix '{file_prefix}' that the model's keys lack "
        f"(file: '{file_key}', model: '{model_key}'): the adapter was saved from a wrapper "
        "(e.g. a PeftModel around a SentenceTransformer). Re-save it from the inner transformer, "
        "or strip the prefix from the keys"
    )


def lost_trained_tensors(report: LoadReport) -> list[str]:
    """Trained tensors other than LoRA A/B that the file lacks, so the model kept its own: DoRA
    magnitude vectors, re-initialised from the base (a missing modules_to_save copy is refused
    before the load, by harness.checkpoint.preflight)."""
    findings = []
    magnitudes = [key for key in report.missing if "lora_magnitude_vector" in key]
    if magnitudes:
        findings.append(
            f"{len(magnitudes)} DoRA magnitude vectors (lora_magnitude_vector, use_dora) are not "
            f"in the file, e.g. {magnitudes[0]}: PEFT re-initialised them from the base weights' "
            "row norms, so the trained magnitudes are lost. Re-save the adapter with PEFT's "
            "save_pretrained and load it with PeftModel.from_pretrained (sentence-transformers' "
            "load_adapter loses DoRA magnitudes too)"
        )
    return findings


def zero_lora_b(adapter: AdapterWeights) -> tuple[list[str], int]:
    """LoRA B matrices in the file that are all zeros (never trained: B starts at zero), and
    how many LoRA B matrices the file holds."""
    lora_b = {k: t for k, t in adapter.tensors.items() if "lora_B" in k}
    return sorted(k for k, t in lora_b.items() if not t.any()), len(lora_b)


def zero_scaling(peft_model: torch.nn.Module) -> list[str]:
    """Adapted modules whose scaling (lora_alpha / r) is zero, so the update vanishes."""
    zeros = []
    for name, module in peft_model.named_modules():
        scaling = getattr(module, "scaling", None)
        if isinstance(scaling, dict) and scaling and all(v == 0 for v in scaling.values()):
            zeros.append(name)
    return zeros


def disabled_adapters(peft_model: torch.nn.Module) -> list[str]:
    """Adapted modules whose adapter layers are switched off."""
    return [
        name
        for name, module in peft_model.named_modules()
        if hasattr(module, "lora_A") and getattr(module, "disable_adapters", False)
    ]


def load_causes(report: LoadReport) -> list[str]:
    """What the load itself shows: keys under a wrapper's prefix, trained tensors the file
    lacks, LoRA B matrices that were never trained."""
    findings: list[str] = []
    prefix = key_prefix_mismatch(report)
    if prefix:
        findings.append(prefix)
    else:
        findings += lost_trained_tensors(report)
    zeros, total = zero_lora_b(report.adapter)
    if zeros:
        findings.append(
            f"{len(zeros)} of {total} lora_B matrices in the file are all zeros (LoRA B starts "
            f"at zero, so these were never trained), e.g. {zeros[0]}: check that the optimizer "
            "received the adapter parameters and that training ran"
        )
    return findings


def setting_causes(adapter_config: dict, peft_model: torch.nn.Module | None) -> list[str]:
    """What the configuration and the loaded model show: zero scaling, disabled adapters."""
    findings: list[str] = []
    alpha = adapter_config.get("lora_alpha")
    if alpha == 0:
        findings.append(
            "lora_alpha is 0 in adapter_config.json, so scaling = lora_alpha / r = 0 and every "
            "update is multiplied by zero: set lora_alpha (commonly 2 * r) and retrain"
        )
    elif peft_model is not None and (unscaled := zero_scaling(peft_model)):
        findings.append(f"scaling is 0 on {len(unscaled)} adapted modules")
    if peft_model is not None:
        disabled = disabled_adapters(peft_model)
        if disabled:
            findings.append(
                f"the adapter is disabled on {len(disabled)} modules (e.g. {disabled[0]}): "
                "something called disable_adapter_layers() or left a disable_adapter() context open"
            )
    return findings


def explain_no_effect(
    adapter_config: dict, report: LoadReport | None, peft_model: torch.nn.Module | None
) -> list[str]:
    """Every reason found why an adapter leaves the embeddings as the base computes them."""
    findings: list[str] = []
    if report is not None:
        if not report.exact:
            findings.append("the adapter file did not load exactly:\n" + report.describe())
        findings += load_causes(report)
    return findings + setting_causes(adapter_config, peft_model)
