"""Every adapter kind the team ships, gated for real (issue 8): DoRA, rsLoRA, feed-forward and
all-linear targets, modules_to_save, several adapters in one checkpoint.

Each variant passes the whole adapter battery in one gate run; each has a broken twin that
fails in the right test with the right diagnosis in a second run; one test keeps
sentence-transformers' DoRA loss in view, so an upstream fix is noticed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import (
    ADAPTER_WEIGHTS,
    SAVED_MODULE,
    copy_checkpoint,
    drop_tensors,
    edit_adapter_config,
    load_base,
    make_all_linear_adapter,
    make_dora_adapter,
    make_ffn_adapter,
    make_modules_to_save_adapter,
    make_multi_adapter,
    make_peft_adapter,
    make_rslora_adapter,
    widen_tensors,
    zero_lora_b_of,
)
from safetensors.torch import load_file
from test_gate_catches import ADAPTER_TESTS

from harness.checkpoint.change_profile import change_profile
from harness.checkpoint.checks import check_updates_every_module
from harness.checkpoint.discover import read_checkpoints
from harness.checkpoint.load import LoadedCandidate, load_candidate, verify_adapter_load

pytestmark = pytest.mark.slow

LOADED = "test_adapter_loaded_exactly"
UPDATES = "test_adapter_updates_every_module"
OTHER_BASE = "sentence-transformers/all-mpnet-base-v2"

VARIANTS: dict[str, Callable[[Path], Path]] = {
    "dora": make_dora_adapter,
    "rslora": make_rslora_adapter,
    "ffn": make_ffn_adapter,
    "all-linear": make_all_linear_adapter,
    "saved-module": make_modules_to_save_adapter,
    "multi": make_multi_adapter,
}
#: gate id -> (tensors in its file, modules its change profile covers)
EXPECTED = {
    "dora": (36, 12),  # 12 modules x (A, B, DoRA magnitude)
    "rslora": (24, 12),
    "ffn": (36, 18),  # "output.dense" matches the attention output projection too
    "all-linear": (74, 37),  # 36 encoder linears and pooler.dense
    "saved-module": (26, 13),  # 12 LoRA modules x (A, B) and the LayerNorm's weight and bias
    "multi/default": (24, 12),
    "multi/second": (24, 12),
}


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """Each variant, and a plain PEFT adapter ("peft"), built once: copy, never edit."""
    root = tmp_path_factory.mktemp("variants")
    built = {name: build(root / name) for name, build in VARIANTS.items()}
    return built | {"peft": make_peft_adapter(root / "peft")}


# ---- every variant passes the battery -------------------------------------------------------


def test_variants_pass_the_gate(gate_project, templates):
    paths = [copy_checkpoint(templates[n], gate_project.checkpoint_path(n)) for n in VARIANTS]

    run = gate_project.run(*paths)

    assert run.ret == 0, run.text
    run.result.assert_outcomes(passed=len(EXPECTED) * len(ADAPTER_TESTS))
    summary = run.summary()
    for name in EXPECTED:
        assert run.outcomes(name) == dict.fromkeys(ADAPTER_TESTS, "PASSED"), name
        assert f"PROMOTE  {name}\n" in summary
    results = {c["name"]: c for c in gate_project.results()["checkpoints"]}
    assert sorted(results) == sorted(EXPECTED)
    for name, (_, n_modules) in EXPECTED.items():
        profile = results[name]["change_profile"]
        assert (profile["n_modules"], profile["n_changed"]) == (n_modules, n_modules), name
        assert f"change profile: {n_modules} of {n_modules} adapted modules changed" in summary
    assert results["multi/second"]["adapter_name"] == "second"
    assert results["saved-module"]["change_profile"]["max_module"] == SAVED_MODULE
    html = (gate_project.path / "reports" / "latest" / "report.html").read_text()
    assert html.count('alt="change profile of ') == len(EXPECTED)


# ---- broken twins ---------------------------------------------------------------------------


def test_broken_twins_fail_with_their_diagnosis(gate_project, templates):
    def twin(variant: str, name: str) -> Path:
        return copy_checkpoint(templates[variant], gate_project.checkpoint_path(name))

    twins = [
        drop_tensors(twin("dora", "dora-no-magnitudes"), "lora_magnitude_vector"),
        drop_tensors(twin("saved-module", "saved-module-dropped"), SAVED_MODULE),
        zero_lora_b_of(twin("ffn", "ffn-layer3-untrained"), "layer.3."),
        zero_lora_b_of(twin("all-linear", "all-linear-pooler-untrained"), "pooler"),
        edit_adapter_config(twin("rslora", "rslora-r-edited"), r=8),
        zero_lora_b_of(twin("multi", "multi-second-untrained"), subpath="second"),
        edit_adapter_config(twin("peft", "other-base"), base_model_name_or_path=OTHER_BASE),
        widen_tensors(twin("peft", "wider-base")),
    ]

    # the two checks the twins break; the battery's other tests cost time and add nothing here
    run = gate_project.run(*twins, args=["-k", f"{LOADED} or {UPDATES}"])

    assert run.ret != 0
    assert run.outcomes("multi-second-untrained/default") == {LOADED: "PASSED", UPDATES: "PASSED"}
    summary = run.summary()
    assert "PROMOTE  multi-second-untrained/default" in summary

    # DoRA magnitudes dropped by an exporter: re-initialised from the base, silently
    assert run.outcomes("dora-no-magnitudes") == {LOADED: "FAILED", UPDATES: "PASSED"}
    message = run.section(LOADED, "dora-no-magnitudes")
    assert "12 missing (model adapter tensors the file did not provide" in message
    assert (
        "12 DoRA magnitude vectors (lora_magnitude_vector, use_dora) are not in the file" in message
    )
    assert "re-initialised them from the base weights' row norms" in message

    # a trained modules_to_save module dropped from the file (PEFT: a bare KeyError)
    assert run.outcomes("saved-module-dropped") == {LOADED: "ERROR", UPDATES: "ERROR"}
    message = run.section(LOADED, "saved-module-dropped")
    assert f"saved-module-dropped/{ADAPTER_WEIGHTS}: field modules_to_save" in message
    missing = f"found 2 of their parameters missing: {SAVED_MODULE}.bias, {SAVED_MODULE}.weight"
    assert missing in message
    assert "an export or merge step dropped it" in message

    # one layer's feed-forward (and attention output) modules never trained
    assert run.outcomes("ffn-layer3-untrained") == {LOADED: "PASSED", UPDATES: "FAILED"}
    message = run.section(UPDATES, "ffn-layer3-untrained")
    assert "3 of 18 adapted modules have a zero weight update" in message
    assert "(needs >= 1, [effect] min_changed_fraction)" in message
    for module in ("attention.output.dense", "intermediate.dense", "output.dense"):
        assert f"  - encoder.layer.3.{module}\n" in message + "\n"

    # all-linear through sentence-transformers: the pooler never gets a gradient
    assert run.outcomes("all-linear-pooler-untrained")[UPDATES] == "FAILED"
    message = run.section(UPDATES, "all-linear-pooler-untrained")
    assert "1 of 37 adapted modules have a zero weight update" in message
    assert "  - pooler.dense" in message
    assert "sentence-transformers never calls BERT's pooler" in message

    # a second adapter never trained fails under its own id only
    assert run.outcomes("multi-second-untrained/second")[UPDATES] == "FAILED"
    assert "12 of 12 adapted modules have a zero weight update" in run.section(
        UPDATES, "multi-second-untrained/second"
    )

    # refused before the load: r edited (rsLoRA scales by lora_alpha / sqrt(r)), another base,
    # tensors of a wider base
    for name in ("rslora-r-edited", "other-base", "wider-base"):
        assert run.outcomes(name) == {LOADED: "ERROR", UPDATES: "ERROR"}, name
    message = run.section(LOADED, "rslora-r-edited")
    assert "24 of 24 adapter tensors do not fit the base model" in message
    assert "field r in adapter_config.json: expected rank 8, found 16" in message
    message = run.section(LOADED, "other-base")
    assert "adapter_config.json: base_model_name_or_path: the adapter was made for" in message
    assert f"'{OTHER_BASE}'" in message  # the adapter's base ...
    assert "sentence-transformers/all-MiniLM-L6-v2 -> " in message  # ... and the gate's
    message = run.section(LOADED, "wider-base")
    assert f"wider-base/{ADAPTER_WEIGHTS}: 24 of 24 adapter tensors do not fit" in message
    assert (
        "tensor 'base_model.model.encoder.layer.0.attention.self.query.lora_A.weight' "
        "(lora_A, shape [8, 768]): field hidden_size in config.json: expected 384, found 768"
    ) in message
    assert "FAILED CLOSED" in summary


# ---- loading: every tensor, through PEFT --------------------------------------------------


@pytest.fixture(scope="module")
def loaded_variants(templates) -> dict[str, LoadedCandidate]:
    """Each variant loaded once (by the gate's loader, on the CPU)."""
    loaded = {}
    for name in VARIANTS:
        for checkpoint in read_checkpoints(templates[name]):
            loaded[checkpoint.name] = load_candidate(checkpoint, {}, "cpu")
    return loaded


def test_every_tensor_of_each_variant_reaches_the_model(loaded_variants):
    """DoRA magnitudes and saved modules are among the tensors compared, not just LoRA A/B."""
    assert sorted(loaded_variants) == sorted(EXPECTED)
    for name, candidate in loaded_variants.items():
        report = candidate.load_report
        assert report.exact, report.describe()
        assert (report.n_file_tensors, report.n_model_tensors) == (EXPECTED[name][0],) * 2, name
    dora = load_file(str(loaded_variants["dora"].checkpoint.adapter_file))
    assert sum("lora_magnitude_vector" in key for key in dora) == 12
    saved = load_file(str(loaded_variants["saved-module"].checkpoint.adapter_file))
    assert f"base_model.model.{SAVED_MODULE}.weight" in saved
    assert loaded_variants["multi/second"].peft_model.active_adapter == "second"


def test_sentence_transformers_load_adapter_still_loses_dora_magnitudes(loaded_variants):
    """sentence-transformers 6.2.0's `load_adapter` re-initialises trained DoRA magnitudes (it
    logs them as UNEXPECTED and MISSING); the gate's loader, PeftModel.from_pretrained on the
    inner transformer, delivers them. If this test fails, upstream fixed the loss: the gate's
    loader may stay, but update the README's library note."""
    ours = loaded_variants["dora"]
    adapter_dir = ours.checkpoint.adapter_dir
    wrapper = load_base()
    wrapper.load_adapter(str(adapter_dir))

    report = verify_adapter_load(wrapper[0].model, ours.load_report.adapter)

    magnitudes = sorted(
        key.removeprefix("base_model.model.")
        for key in load_file(str(ours.checkpoint.adapter_file))
        if "lora_magnitude_vector" in key
    )
    assert report.mismatched == magnitudes, (
        "sentence-transformers' load_adapter now loads DoRA magnitudes exactly: upstream fixed "
        f"it.\n{report.describe()}"
    )
    assert not report.missing and not report.unexpected
    probe = ["The VPN drops every ten minutes.", "Disk usage on the build server is at 98%."]
    difference = np.abs(ours.model.encode(probe) - wrapper.encode(probe)).max()
    assert difference > 1e-3, "the two loaders now agree: upstream fixed the DoRA loss"


# ---- the change profile ---------------------------------------------------------------------


def test_change_profile_lora_and_rslora_updates_are_scaling_b_a(loaded_variants):
    """LoRA: ||scaling * B @ A|| / ||W||, from the file's tensors; rsLoRA's scaling is
    lora_alpha / sqrt(r) (16 / 4 = 4), plain LoRA's lora_alpha / r (16 / 8 = 2)."""
    for name, scaling in (("ffn", 16 / 8), ("rslora", 16 / math.sqrt(16))):
        candidate = loaded_variants[name]
        tensors = load_file(str(candidate.checkpoint.adapter_file))
        base = load_base()[0].model.state_dict()
        modules = change_profile(candidate.peft_model).modules
        assert len(modules) == EXPECTED[name][1], name  # the loop below checks every one
        for change in modules:
            key = f"base_model.model.{change.module}"
            delta = scaling * tensors[f"{key}.lora_B.weight"] @ tensors[f"{key}.lora_A.weight"]
            weight = base[f"{change.module}.weight"]
            expected = float(torch.linalg.norm(delta) / torch.linalg.norm(weight))
            assert change.kind == "lora"
            assert change.relative_update == pytest.approx(expected, rel=1e-5), change.module


def test_change_profile_dora_is_the_effective_weight_minus_the_base(loaded_variants):
    """DoRA: the merged (effective) weight minus the base, magnitudes included; a profile of
    only `scaling * B @ A` would miss the magnitudes' share."""
    candidate = loaded_variants["dora"]
    merged = dict(candidate.merged()[0].model.named_modules())
    base = load_base()[0].model.state_dict()
    profile = change_profile(candidate.peft_model)
    assert {m.kind for m in profile.modules} == {"dora"}
    for change in profile.modules:
        weight = base[f"{change.module}.weight"]
        update = merged[change.module].weight.detach() - weight
        expected = float(torch.linalg.norm(update) / torch.linalg.norm(weight))
        assert change.relative_update == pytest.approx(expected, rel=1e-4), change.module
        layer = candidate.peft_model.get_submodule(f"base_model.model.{change.module}")
        lora_only = float(torch.linalg.norm(layer.get_delta_weight("default")))
        assert abs(change.update_norm - lora_only) > 0.01 * lora_only  # magnitudes count


def test_change_profile_of_saved_modules_and_min_changed_fraction(loaded_variants):
    candidate = loaded_variants["saved-module"]
    profile = change_profile(candidate.peft_model)
    saved = next(m for m in profile.modules if m.kind == "modules_to_save")
    assert saved.module == SAVED_MODULE and saved.layer == 5
    tensors = load_file(str(candidate.checkpoint.adapter_file))
    base = load_base()[0].model.state_dict()
    update = sum(
        float(
            torch.sum(
                (tensors[f"base_model.model.{SAVED_MODULE}.{p}"] - base[f"{SAVED_MODULE}.{p}"]) ** 2
            )
        )
        for p in ("weight", "bias")
    )
    norm = sum(float(torch.sum(base[f"{SAVED_MODULE}.{p}"] ** 2)) for p in ("weight", "bias"))
    assert saved.relative_update == pytest.approx(math.sqrt(update / norm), rel=1e-5)

    # one module of 13 untrained: fails at the default 1.0, passes at 12/13
    with torch.no_grad():
        layer = candidate.peft_model.get_submodule(
            "base_model.model.encoder.layer.2.attention.self.value"
        )
        kept = layer.lora_B["default"].weight.clone()
        layer.lora_B["default"].weight.zero_()
    try:
        untrained = change_profile(candidate.peft_model)
    finally:
        with torch.no_grad():
            layer.lora_B["default"].weight.copy_(kept)
    assert untrained.unchanged == ["encoder.layer.2.attention.self.value"]
    message = check_updates_every_module("saved-module", untrained, 1.0)
    assert message is not None and "1 of 13 adapted modules have a zero weight update" in message
    assert check_updates_every_module("saved-module", untrained, 12 / 13) is None
    assert check_updates_every_module("saved-module", profile, 1.0) is None


# ---- low precision --------------------------------------------------------------------------


def test_low_precision_models_are_merged_in_float32_then_cast(loaded_variants):
    candidate = loaded_variants["dora"]
    merged = candidate.in_dtype(torch.bfloat16, merged=True)
    unmerged = candidate.in_dtype(torch.bfloat16, merged=False)
    reference = candidate.merged()[0].model.state_dict()
    for name, tensor in merged[0].model.state_dict().items():
        assert tensor.dtype == torch.bfloat16 or not tensor.is_floating_point()
        if tensor.is_floating_point():
            assert torch.equal(tensor, reference[name].to(torch.bfloat16)), name
    assert next(unmerged.parameters()).dtype == torch.bfloat16
    assert unmerged[0].model.peft_config  # still the adapter, unmerged
    assert next(candidate.model.parameters()).dtype == torch.float32  # the candidate is untouched
