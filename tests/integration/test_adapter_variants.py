"""Every adapter kind the team ships, gated for real: DoRA, rsLoRA, feed-forward and
all-linear targets, modules_to_save, several adapters in one checkpoint.

Each variant passes the whole adapter battery in one gate run; each has a broken twin that
fails in the right test with the right diagnosis in a second run; one test keeps
sentence-transformers' DoRA loss in view, so an upstream fix is noticed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from adapter_battery import ADAPTER_TESTS, LOADED, UPDATES
from cases import cases
from factories import (
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
from gate_project import GateRun
from safetensors.torch import load_file

from harness.checkpoint.change_profile import change_profile
from harness.checkpoint.checks import check_updates_every_module
from harness.checkpoint.discover import ADAPTER_WEIGHTS, read_checkpoints
from harness.checkpoint.load import LoadedCandidate, load_candidate, verify_adapter_load
from harness.checkpoint.preflight import PEFT_PREFIX

pytestmark = pytest.mark.slow

OTHER_BASE = "sentence-transformers/all-mpnet-base-v2"

VARIANTS: dict[str, Callable[[Path], Path]] = {
    "dora": make_dora_adapter,
    "rslora": make_rslora_adapter,
    "ffn": make_ffn_adapter,
    "all-linear": make_all_linear_adapter,
    "saved-module": make_modules_to_save_adapter,
    "multi": make_multi_adapter,
}
VARIANT_IDS = [
    # (gate id, tensors in its file, modules its change profile covers)
    ("dora", 36, 12),  # 12 modules x (A, B, DoRA magnitude)
    ("rslora", 24, 12),
    ("ffn", 36, 18),  # "output.dense" matches the attention output projection too
    ("all-linear", 74, 37),  # 36 encoder linears and pooler.dense
    ("saved-module", 26, 13),  # 12 LoRA modules x (A, B) and the LayerNorm's weight and bias
    ("multi/default", 24, 12),
    ("multi/second", 24, 12),
]
GATE_IDS = [name for name, *_ in VARIANT_IDS]


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, Path]:
    """Each variant, and a plain PEFT adapter ("peft"), built once: copy, never edit."""
    root = tmp_path_factory.mktemp("variants")
    built = {name: build(root / name) for name, build in VARIANTS.items()}
    return built | {"peft": make_peft_adapter(root / "peft")}


# ---- every variant passes the battery -------------------------------------------------------


@dataclass(frozen=True)
class SharedRun:
    """One gate run shared by a case table's tests: what it printed and wrote."""

    run: GateRun
    summary: str
    checkpoints: dict[str, dict]  # results.json's checkpoint rows, by name
    html: str  # report.html


def shared_run(project, checkpoints: list[Path], args: Sequence[str] = ()) -> SharedRun:
    """Gate `checkpoints` in `project`, and keep what the run printed and wrote."""
    run = project.run(*checkpoints, args=args)
    rows = {c["name"]: c for c in project.results()["checkpoints"]}
    html = (project.path / "reports" / "latest" / "report.html").read_text()
    return SharedRun(run, run.summary(), rows, html)


@pytest.fixture
def variants_run(request, once_per_module, templates) -> SharedRun:
    """Every variant in one gate run, made by the first test that asks."""

    def run_variants() -> SharedRun:
        project = request.getfixturevalue("gate_project")
        paths = [copy_checkpoint(templates[n], project.checkpoint_path(n)) for n in VARIANTS]
        return shared_run(project, paths)

    return once_per_module("variants", run_variants)


def test_variants_pass_the_gate(variants_run):
    # every adapter test passes; the rest of the battery is not in the project: INCOMPLETE
    assert variants_run.run.ret == 1, variants_run.run.text
    variants_run.run.result.assert_outcomes(passed=len(GATE_IDS) * len(ADAPTER_TESTS))
    assert sorted(variants_run.checkpoints) == sorted(GATE_IDS)
    assert variants_run.checkpoints["multi/second"]["adapter_name"] == "second"
    assert variants_run.checkpoints["saved-module"]["change_profile"]["max_module"] == SAVED_MODULE
    assert variants_run.html.count('alt="change profile of ') == len(GATE_IDS)


@pytest.mark.parametrize(("name", "n_tensors", "n_modules"), cases(VARIANT_IDS))
def test_variant_passes_every_adapter_test(variants_run, name, n_tensors, n_modules):
    assert variants_run.run.outcomes(name) == dict.fromkeys(ADAPTER_TESTS, "PASSED")
    assert f"INCOMPLETE {name}: " in variants_run.summary
    row = variants_run.checkpoints[name]
    assert row["verdict"] == "INCOMPLETE" and row["first_failure"] is None
    profile = variants_run.checkpoints[name]["change_profile"]
    assert (profile["n_modules"], profile["n_changed"]) == (n_modules, n_modules)
    assert f"change profile: {n_modules} of {n_modules} adapted modules changed" in (
        variants_run.summary
    )


# ---- broken twins ---------------------------------------------------------------------------

TWINS = [
    # (name, variant copied, how the copy is broken)
    ("dora-no-magnitudes", "dora", lambda path: drop_tensors(path, "lora_magnitude_vector")),
    ("saved-module-dropped", "saved-module", lambda path: drop_tensors(path, SAVED_MODULE)),
    ("ffn-layer3-untrained", "ffn", lambda path: zero_lora_b_of(path, "layer.3.")),
    ("all-linear-pooler-untrained", "all-linear", lambda path: zero_lora_b_of(path, "pooler")),
    ("rslora-r-edited", "rslora", lambda path: edit_adapter_config(path, r=8)),
    ("multi-second-untrained", "multi", lambda path: zero_lora_b_of(path, subpath="second")),
    (
        "other-base",
        "peft",
        lambda path: edit_adapter_config(path, base_model_name_or_path=OTHER_BASE),
    ),
    ("wider-base", "peft", widen_tensors),
]
TWIN_CASES = [
    # (gate id, outcomes of LOADED and UPDATES, verdict, the test whose message is checked,
    #  fragments of that message)
    (  # DoRA magnitudes dropped by an exporter: re-initialised from the base, silently
        "dora-no-magnitudes",
        {LOADED: "FAILED", UPDATES: "PASSED"},
        "REJECT",
        LOADED,
        [
            "12 missing (model adapter tensors the file did not provide",
            "12 DoRA magnitude vectors (lora_magnitude_vector, use_dora) are not in the file",
            "re-initialised them from the base weights' row norms",
        ],
    ),
    (  # a trained modules_to_save module dropped from the file (PEFT: a bare KeyError)
        "saved-module-dropped",
        {LOADED: "ERROR", UPDATES: "ERROR"},
        "REJECT",
        LOADED,
        [
            f"saved-module-dropped/{ADAPTER_WEIGHTS}: field modules_to_save",
            f"found 2 of their parameters missing: {SAVED_MODULE}.bias, {SAVED_MODULE}.weight",
            "an export or merge step dropped it",
        ],
    ),
    (  # one layer's feed-forward (and attention output) modules never trained
        "ffn-layer3-untrained",
        {LOADED: "PASSED", UPDATES: "FAILED"},
        "REJECT",
        UPDATES,
        [
            "3 of 18 adapted modules have a zero weight update",
            "(needs >= 1, [effect] min_changed_fraction)",
            *(
                f"  - encoder.layer.3.{module}\n"
                for module in ("attention.output.dense", "intermediate.dense", "output.dense")
            ),
        ],
    ),
    (  # all-linear through sentence-transformers: the pooler never gets a gradient
        "all-linear-pooler-untrained",
        {LOADED: "PASSED", UPDATES: "FAILED"},
        "REJECT",
        UPDATES,
        [
            "1 of 37 adapted modules have a zero weight update",
            "  - pooler.dense",
            "sentence-transformers never calls BERT's pooler",
        ],
    ),
    (  # the first adapter of the checkpoint is intact and passes under its own id ...
        "multi-second-untrained/default",
        {LOADED: "PASSED", UPDATES: "PASSED"},
        "INCOMPLETE",  # both checks passed; the run selected two of its battery
        None,
        [],
    ),
    (  # ... a second adapter never trained fails under its own id only
        "multi-second-untrained/second",
        {LOADED: "PASSED", UPDATES: "FAILED"},
        "REJECT",
        UPDATES,
        ["12 of 12 adapted modules have a zero weight update"],
    ),
    # refused before the load: r edited (rsLoRA scales by lora_alpha / sqrt(r)), another base,
    # tensors of a wider base
    (
        "rslora-r-edited",
        {LOADED: "ERROR", UPDATES: "ERROR"},
        "REJECT",
        LOADED,
        [
            "24 of 24 adapter tensors do not fit the base model",
            "field r in adapter_config.json: expected rank 8, found 16",
        ],
    ),
    (
        "other-base",
        {LOADED: "ERROR", UPDATES: "ERROR"},
        "REJECT",
        LOADED,
        [
            "adapter_config.json: base_model_name_or_path: the adapter was made for",
            f"'{OTHER_BASE}'",  # the adapter's base ...
            "sentence-transformers/all-MiniLM-L6-v2 -> ",  # ... and the gate's
        ],
    ),
    (
        "wider-base",
        {LOADED: "ERROR", UPDATES: "ERROR"},
        "REJECT",
        LOADED,
        [
            f"wider-base/{ADAPTER_WEIGHTS}: 24 of 24 adapter tensors do not fit",
            f"tensor '{PEFT_PREFIX}encoder.layer.0.attention.self.query.lora_A.weight' "
            "(lora_A, shape [8, 768]): field hidden_size in config.json: expected 384, found 768",
        ],
    ),
]


@pytest.fixture
def twins_run(request, once_per_module, templates) -> SharedRun:
    """Every broken twin in one gate run, made by the first test that asks."""

    def run_twins() -> SharedRun:
        project = request.getfixturevalue("gate_project")
        twins = [
            breaks(copy_checkpoint(templates[variant], project.checkpoint_path(name)))
            for name, variant, breaks in TWINS
        ]
        # the two checks the twins break; the battery's other tests cost time and add nothing
        return shared_run(project, twins, args=["-k", f"{LOADED} or {UPDATES}"])

    return once_per_module("twins", run_twins)


def test_broken_twins_fail_the_run_closed(twins_run):
    assert twins_run.run.ret != 0
    assert "FAILED CLOSED" in twins_run.summary
    assert sorted(twins_run.checkpoints) == sorted(name for name, *_ in TWIN_CASES)


@pytest.mark.parametrize(("name", "outcomes", "verdict", "test", "fragments"), cases(TWIN_CASES))
def test_broken_twin_fails_with_its_diagnosis(twins_run, name, outcomes, verdict, test, fragments):
    assert twins_run.run.outcomes(name) == outcomes
    assert f"{verdict:<8} {name}" in twins_run.summary
    if test is not None:
        message = twins_run.run.section(test, name) + "\n"
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in:\n{message}"


# ---- loading: every tensor, through PEFT --------------------------------------------------


@pytest.fixture(scope="module")
def loaded_variants(templates) -> dict[str, LoadedCandidate]:
    """Each variant loaded once (by the gate's loader, on the CPU)."""
    loaded = {}
    for name in VARIANTS:
        for checkpoint in read_checkpoints(templates[name]):
            loaded[checkpoint.name] = load_candidate(checkpoint, {}, "cpu")
    return loaded


@pytest.mark.parametrize(("name", "n_tensors", "n_modules"), cases(VARIANT_IDS))
def test_every_tensor_of_a_variant_reaches_the_model(loaded_variants, name, n_tensors, n_modules):
    """DoRA magnitudes and saved modules are among the tensors compared, not just LoRA A/B."""
    report = loaded_variants[name].load_report
    assert report.exact, report.describe()
    assert (report.n_file_tensors, report.n_model_tensors) == (n_tensors, n_tensors)


def test_the_variants_tensors_are_in_their_files(loaded_variants):
    assert sorted(loaded_variants) == sorted(GATE_IDS)
    dora = load_file(str(loaded_variants["dora"].checkpoint.adapter_file))
    assert sum("lora_magnitude_vector" in key for key in dora) == 12
    saved = load_file(str(loaded_variants["saved-module"].checkpoint.adapter_file))
    assert f"{PEFT_PREFIX}{SAVED_MODULE}.weight" in saved
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
        key.removeprefix(PEFT_PREFIX)
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


#: (gate id, LoRA scaling): plain LoRA's lora_alpha / r, rsLoRA's lora_alpha / sqrt(r)
LORA_SCALINGS = [("ffn", 16 / 8), ("rslora", 16 / math.sqrt(16))]


@pytest.mark.parametrize(("name", "scaling"), cases(LORA_SCALINGS))
def test_change_profile_lora_and_rslora_updates_are_scaling_b_a(loaded_variants, name, scaling):
    """LoRA: ||scaling * B @ A|| / ||W||, from the file's tensors; rsLoRA's scaling is
    lora_alpha / sqrt(r) (16 / 4 = 4), plain LoRA's lora_alpha / r (16 / 8 = 2)."""
    candidate = loaded_variants[name]
    tensors = load_file(str(candidate.checkpoint.adapter_file))
    base = load_base()[0].model.state_dict()
    modules = change_profile(candidate.peft_model).modules
    n_modules = next(n for gate_id, _, n in VARIANT_IDS if gate_id == name)
    assert len(modules) == n_modules  # the loop below checks every one
    for change in modules:
        key = f"{PEFT_PREFIX}{change.module}"
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
        layer = candidate.peft_model.get_submodule(f"{PEFT_PREFIX}{change.module}")
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
                (tensors[f"{PEFT_PREFIX}{SAVED_MODULE}.{p}"] - base[f"{SAVED_MODULE}.{p}"]) ** 2
            )
        )
        for p in ("weight", "bias")
    )
    norm = sum(float(torch.sum(base[f"{SAVED_MODULE}.{p}"] ** 2)) for p in ("weight", "bias"))
    assert saved.relative_update == pytest.approx(math.sqrt(update / norm), rel=1e-5)

    # one module of 13 untrained: fails at the default 1.0, passes at 12/13
    with torch.no_grad():
        layer = candidate.peft_model.get_submodule(
            f"{PEFT_PREFIX}encoder.layer.2.attention.self.value"
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
