"""The real gate (a copy of tests/gate/test_adapter.py, run in-process) on built checkpoints.

Each broken checkpoint must make the run fail, in the right test, with the right diagnosis;
good checkpoints in both save layouts must pass every test; a full model must pass the
checks that apply to it and list the adapter-only ones as not applicable. One test replays
the seed's own loading path, the one that shipped three no-op adapters.

The project holds the adapter battery only, so a good checkpoint's verdict is INCOMPLETE
(every check that ran passed; the behaviour, quality and throughput checks did not run) and
the run exits 1: only the whole battery can PROMOTE (tests/integration/test_distributed.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adapter_battery import (
    ADAPTER_TESTS,
    BASELINE_UNTOUCHED,
    BEHAVIOUR_CHECKS,
    CHANGES,
    LOADED,
    QUALITY_CHECKS,
)
from cases import cases
from factories import (
    add_wrapper_prefix,
    base_model_path,
    load_base,
    make_absent_targets,
    make_full_model,
    make_lora_alpha_zero,
    make_never_trained,
    make_peft_adapter,
    make_wrong_prefix,
)
from gate_project import GateRun
from paths import GATE_TOML, REPO
from peft import PeftModel

from harness.checkpoint.checks import check_changes_embeddings, check_loaded_exactly
from harness.checkpoint.diagnose import key_prefix_mismatch
from harness.checkpoint.discover import ADAPTER_WEIGHTS, read_checkpoint
from harness.checkpoint.load import LoadedCandidate, load_candidate, verify_adapter_load
from harness.checkpoint.safetensors_files import read_adapter_weights
from harness.config import load_config

pytestmark = pytest.mark.slow

EXAMPLE_ADAPTER = REPO / "models" / "minilm-stsb-lora"


# ---- broken checkpoints ---------------------------------------------------------------------


def test_never_trained_adapter_is_caught(gate_project):
    checkpoint = make_never_trained(gate_project.checkpoint_path("never-trained"))
    run = gate_project.run(checkpoint)

    assert run.ret != 0
    outcomes = run.outcomes("never-trained")
    assert outcomes[CHANGES] == "FAILED"
    assert outcomes[LOADED] == "PASSED"  # it did load exactly: the file holds zeros
    message = run.section(CHANGES, "never-trained")
    assert "the adapter does not change the embeddings" in message
    assert "12 of 12 lora_B matrices in the file are all zeros" in message
    assert "never trained" in message
    assert "REJECT   never-trained: adapter_changes_embeddings failed" in run.summary()


def test_wrong_key_prefix_is_caught(gate_project, good_adapter):
    checkpoint = make_wrong_prefix(gate_project.checkpoint_path("wrong-prefix"), good=good_adapter)
    run = gate_project.run(checkpoint)

    assert run.ret != 0
    outcomes = run.outcomes("wrong-prefix")
    assert outcomes[LOADED] == "FAILED"
    assert outcomes[CHANGES] == "FAILED"
    message = run.section(LOADED, "wrong-prefix")
    assert "the adapter did not load exactly" in message
    assert "24 missing (model adapter tensors the file did not provide" in message
    assert "24 unexpected (file tensors that reached no model parameter)" in message
    assert "0.model.encoder.layer.0.attention.self.query.lora_A.weight" in message  # a file key
    assert "Found missing adapter keys" in message  # PEFT's own warning, kept
    assert "the file's keys carry a prefix '0.model.' that the model's keys lack" in message
    assert "saved from a wrapper" in message
    diagnosis = run.section(CHANGES, "wrong-prefix")
    assert "the adapter does not change the embeddings" in diagnosis
    assert "prefix '0.model.'" in diagnosis


def test_lora_alpha_zero_is_caught(gate_project, good_adapter):
    checkpoint = make_lora_alpha_zero(gate_project.checkpoint_path("alpha-zero"), good=good_adapter)
    run = gate_project.run(checkpoint)

    assert run.ret != 0
    outcomes = run.outcomes("alpha-zero")
    assert outcomes[CHANGES] == "FAILED"
    assert outcomes[LOADED] == "PASSED"
    message = run.section(CHANGES, "alpha-zero")
    assert "the adapter does not change the embeddings" in message
    assert "lora_alpha is 0 in adapter_config.json" in message
    assert "scaling = lora_alpha / r = 0" in message


def test_absent_target_modules_are_caught(gate_project, good_adapter):
    checkpoint = make_absent_targets(
        gate_project.checkpoint_path("absent-targets"), good=good_adapter
    )
    run = gate_project.run(checkpoint)

    assert run.ret != 0
    outcomes = run.outcomes("absent-targets")
    assert set(outcomes) == set(ADAPTER_TESTS)
    assert set(outcomes.values()) == {"ERROR"}  # no test of this checkpoint ran, none passed
    message = run.section(LOADED, "absent-targets")
    assert "adapter_config.json: PEFT cannot apply the adapter" in message
    assert "not found in the base model" in message
    assert "q_proj" in message and "v_proj" in message
    assert "check target_modules against the base model's module names" in message
    assert "FAILED CLOSED" in run.summary()


@pytest.mark.parametrize("prefix", ["0.model.", "0.auto_model."])
def test_wrong_prefix_diagnosis_names_the_wrapper_prefix(good_adapter, prefix):
    """Whatever the wrapper called its transformer (`model` now, `auto_model` before
    sentence-transformers 5), the diagnosis names exactly the extra prefix."""
    add_wrapper_prefix(good_adapter, prefix)  # in place: the copy is this test's own
    candidate = load_candidate(read_checkpoint(good_adapter), {}, "cpu")

    message = check_loaded_exactly(candidate)

    assert message is not None
    assert f"the file's keys carry a prefix '{prefix}' that the model's keys lack" in message
    assert f"(file: '{prefix}encoder.layer.0.attention.self.query.lora_A.weight'" in message


# ---- the seed's loading path ----------------------------------------------------------------


def test_seed_loading_path_is_caught(good_adapter):
    """`PeftModel.from_pretrained(SentenceTransformer(base), adapter_dir)` on a good adapter:
    PEFT wraps the whole SentenceTransformer, no key matches, every lora_B stays zero."""
    adapter_file = good_adapter / ADAPTER_WEIGHTS
    with pytest.warns(UserWarning, match="Found missing adapter keys"):
        seed_model = PeftModel.from_pretrained(load_base(), str(good_adapter))

    report = verify_adapter_load(seed_model, read_adapter_weights(adapter_file))
    assert not report.exact
    assert len(report.missing) == len(report.unexpected) == 24
    assert report.missing[0] == "0.model.encoder.layer.0.attention.self.query.lora_A.weight"
    assert report.unexpected[0] == "encoder.layer.0.attention.self.query.lora_A.weight"
    explanation = key_prefix_mismatch(report)
    assert explanation is not None
    assert "the model's adapter keys carry an extra prefix '0.model.'" in explanation
    assert "PeftModel.from_pretrained(SentenceTransformer(...))" in explanation
    assert "PeftModel.from_pretrained(st[0].model, adapter_dir)" in explanation

    # What runs when the seed encodes: the SentenceTransformer inside the PeftModel, with
    # LoRA layers injected into its attention and every lora_B still zero.
    st = seed_model.base_model.model
    lora_b = [p for name, p in st.named_parameters() if "lora_B" in name]
    assert len(lora_b) == 12 and not any(torch.any(p) for p in lora_b)
    config = load_config(GATE_TOML)
    probe = [
        s for s in config.effect.probe_path.read_text(encoding="utf-8").splitlines() if s.strip()
    ]
    base = load_base().encode(probe, convert_to_numpy=True)
    adapted = seed_model.encode(probe, convert_to_numpy=True)  # PeftModel forwards to the ST
    np.testing.assert_array_equal(  # the same computation, bit for bit
        seed_model.encode(probe[:8], convert_to_numpy=True),
        st.encode(probe[:8], convert_to_numpy=True),
    )

    candidate = LoadedCandidate(
        read_checkpoint(good_adapter), st, base_path=base_model_path(), load_report=report
    )
    loaded = check_loaded_exactly(candidate)
    assert loaded is not None and "extra prefix '0.model.'" in loaded
    message = check_changes_embeddings(candidate, base, adapted, config.effect)
    assert message is not None
    assert "the adapter does not change the embeddings" in message
    assert "the adapter file did not load exactly" in message
    assert "extra prefix '0.model.'" in message

    # Control: the same encode path does see the LoRA layers once B is not zero, so the
    # failure above is the load, not an encode that bypasses the adapter.
    with torch.no_grad():
        for parameter in lora_b:
            parameter.normal_(std=0.02)
    moved = seed_model.encode(probe, convert_to_numpy=True)
    assert check_changes_embeddings(candidate, base, moved, config.effect) is None


# ---- good checkpoints -----------------------------------------------------------------------


LAYOUTS = [
    # (gate id, the layout its folder reads as)
    ("st-saved", "sentence-transformers"),
    ("peft-saved", "peft"),
]


def assert_incomplete_with_only_the_adapter_battery_run(row: dict, summary: str) -> None:
    """Every check of the adapter battery ran and passed; the rest of the battery did not run."""
    assert row["verdict"] == "INCOMPLETE" and row["first_failure"] is None
    assert {c["outcome"] for c in row["checks"]} == {"passed"}
    assert set(BEHAVIOUR_CHECKS + QUALITY_CHECKS) <= set(row["missing_checks"])
    ran = {c["check"] for c in row["checks"]}
    assert not ran & set(row["missing_checks"])
    assert f"INCOMPLETE {row['name']}: {len(row['missing_checks'])} required check(s) did not " \
        "run" in summary


@pytest.fixture
def layouts_run(request, once_per_module) -> tuple[GateRun, dict[str, str], dict[str, dict]]:
    """A good adapter in each save layout, gated in one run made by the first test that asks,
    the layout each folder reads as, and results.json's rows."""

    def run_layouts() -> tuple[GateRun, dict[str, str], dict[str, dict]]:
        project = request.getfixturevalue("gate_project")
        st_saved = project.checkpoint_path("st-saved")
        request.getfixturevalue("good_adapter").rename(st_saved)
        peft_saved = make_peft_adapter(project.checkpoint_path("peft-saved"))
        saved_by = {path.name: read_checkpoint(path).saved_by for path in (st_saved, peft_saved)}
        run = project.run(st_saved, peft_saved)
        return run, saved_by, {c["name"]: c for c in project.results()["checkpoints"]}

    return once_per_module("layouts", run_layouts)


def test_good_adapters_pass_in_both_layouts(layouts_run):
    run, _, _ = layouts_run
    assert run.ret == 1, "the adapter battery alone is INCOMPLETE"
    run.result.assert_outcomes(passed=len(LAYOUTS) * len(ADAPTER_TESTS))


@pytest.mark.parametrize(("name", "saved_by"), cases(LAYOUTS))
def test_good_adapter_passes_in_its_layout(layouts_run, name, saved_by):
    run, layouts, rows = layouts_run
    assert layouts[name] == saved_by
    assert run.outcomes(name) == dict.fromkeys(ADAPTER_TESTS, "PASSED")
    assert_incomplete_with_only_the_adapter_battery_run(rows[name], run.summary())


def test_full_model_runs_only_what_applies(gate_project):
    checkpoint = make_full_model(gate_project.checkpoint_path("full-model"))
    run = gate_project.run(checkpoint)

    assert run.ret == 1, run.text
    run.result.assert_outcomes(passed=1, deselected=len(ADAPTER_TESTS) - 1)
    assert run.outcomes("full-model") == {BASELINE_UNTOUCHED: "PASSED"}
    summary = run.summary()
    [row] = gate_project.results()["checkpoints"]
    assert_incomplete_with_only_the_adapter_battery_run(row, summary)
    adapter_checks = {test.removeprefix("test_") for test in ADAPTER_TESTS[:-1]}
    assert not adapter_checks & set(row["required_checks"]), "not required of a full model"
    assert "not applicable (not run, not counted as passed):" in summary
    for test in ADAPTER_TESTS[:-1]:
        assert f"{test.removeprefix('test_')}[full-model]: full model has no adapter" in summary


def test_example_adapter_passes(gate_project):
    """The committed example adapter, models/minilm-stsb-lora, passes the adapter battery."""
    if not EXAMPLE_ADAPTER.is_dir():
        pytest.fail(f"{EXAMPLE_ADAPTER} is missing: the example adapter must be in the repository")
    run = gate_project.run(EXAMPLE_ADAPTER)

    assert run.ret == 1, "the adapter battery alone is INCOMPLETE"
    run.result.assert_outcomes(passed=len(ADAPTER_TESTS))
    assert run.outcomes("minilm-stsb-lora") == dict.fromkeys(ADAPTER_TESTS, "PASSED")
    [row] = gate_project.results()["checkpoints"]
    assert_incomplete_with_only_the_adapter_battery_run(row, run.summary())


def test_a_pickled_adapter_is_scanned_then_passes_every_adapter_test(gate_project, good_adapter):
    """`save_pretrained(..., safe_serialization=False)` writes adapter_model.bin: scanned clean,
    loaded with weights_only, gated like safetensors, every check included."""
    folder = gate_project.checkpoint_path("pickled-adapter")
    peft_model = PeftModel.from_pretrained(load_base()[0].model, str(good_adapter))
    peft_model.save_pretrained(str(folder), safe_serialization=False)
    assert (folder / "adapter_model.bin").is_file()
    assert not (folder / ADAPTER_WEIGHTS).exists()

    run = gate_project.run(folder)

    assert run.outcomes("pickled-adapter") == dict.fromkeys(ADAPTER_TESTS, "PASSED"), run.text
    [row] = gate_project.results()["checkpoints"]
    assert row["weights_format"] == "pickle" and row["saved_by"] == "peft"
