"""Every bad input fails the real gate (in-process) with a message naming file, problem and fix.

The zoo is built at test time by tests/bad_inputs.py. Checkpoints that cannot be gated are
refused before any slow load (harness.checkpoint.preflight) and error every gate test of their own,
while the run still reports; input the whole run depends on (gate.toml, the checkpoints
directory, a checkpoint folder) fails every gate test and the summary says NOTHING GATED.
Either way the exit status is non-zero and no partial report passes for a complete one.
Target modules absent from the base are in test_gate_catches.py (PEFT's own refusal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import bad_inputs as zoo
import pytest
import torch
from adapter_battery import ADAPTER_TESTS, BASELINE_UNTOUCHED, LOADED
from cases import cases
from gate_project import GateRun
from paths import REPO

from harness.checkpoint.discover import ADAPTER_CONFIG, ADAPTER_WEIGHTS, PICKLED

UNUSABLE = "unusable-input"
FIXTURES = REPO / "fixtures"


def assert_refused(run, test: str, checkpoint: str, *fragments: str) -> str:
    """The run failed, `test` of `checkpoint` shows every fragment, and no traceback anywhere."""
    assert run.ret == pytest.ExitCode.TESTS_FAILED, run.text
    message = run.section(test, checkpoint)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "\n  fix: " in message
    assert "Traceback" not in run.text
    assert " passed" not in run.text.split("short test summary info")[-1]
    return message


# ---- checkpoints refused before loading: that checkpoint's every test errors ----------------

LOAD_REFUSALS = [
    # (name, build(good, path, marker), file named, problem fragments, fix fragment)
    (
        "truncated",
        lambda good, path, _: zoo.truncated_weights(good, path),
        ADAPTER_WEIGHTS,
        ["cannot be read as safetensors", "file not fully covered"],
        "re-save or re-download it: the file is truncated or corrupt",
    ),
    (
        "corrupt",
        lambda good, path, _: zoo.corrupt_weights(good, path),
        ADAPTER_WEIGHTS,
        ["cannot be read as safetensors", "exceeds the file"],
        "re-save or re-download it: the file is truncated or corrupt",
    ),
    (
        "non-finite",
        lambda good, path, _: zoo.non_finite_weights(good, path),
        ADAPTER_WEIGHTS,
        [
            "2 of 24 adapter tensors hold NaN or Inf values",
            "layer.0.attention.self.query.lora_A.weight: 1 NaN and 0 Inf of 3072 values",
            "layer.0.attention.self.query.lora_B.weight: 0 NaN and 1 Inf of 3072 values",
        ],
        "training diverged",
    ),
    (
        "other-base",
        lambda good, path, _: zoo.other_base_adapter(path),
        ADAPTER_WEIGHTS,
        ["8 of 8 adapter tensors do not fit the base model", "expected 384", "found 64"],
        "the adapter was made for another base model",
    ),
    (
        "unknown-base",
        lambda good, path, _: zoo.unknown_base(good, path),
        ADAPTER_CONFIG,
        ["'acme/never-downloaded-encoder'"],
        "[aliases]",
    ),
    (
        "unusable-rank",
        lambda good, path, _: zoo.unusable_rank(good, path),
        ADAPTER_CONFIG,
        ['r = "eight" must be a positive whole number'],
        "restore the values the adapter was trained with",
    ),
    (
        "pickled",
        zoo.pickled_adapter,
        PICKLED,
        ["is a pickle that imports __builtin__.exec when loaded (found by scanning it, without "
         "running it)"],
        "never load this file with torch.load(weights_only=False)",
    ),
    (
        "bin-and-safetensors",
        zoo.both_weight_files,
        "",  # the folder itself
        ["holds both adapter_model.safetensors and adapter_model.bin", "ambiguous"],
        "delete the one that was not meant",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "build", "file", "problems", "fix"), cases(LOAD_REFUSALS))
def test_bad_checkpoint_is_refused_before_loading(
    gate_project, good_adapter, tmp_path, name, build, file, problems, fix
):
    marker = tmp_path / "payload-ran"
    checkpoint = build(good_adapter, gate_project.checkpoint_path(name), marker)

    run = gate_project.run(checkpoint)

    outcomes = run.outcomes(name)
    assert set(ADAPTER_TESTS) <= set(outcomes)
    assert set(outcomes.values()) == {"ERROR"}  # none ran, none passed
    path = checkpoint / file if file else checkpoint
    assert_refused(run, LOADED, name, f"{path}: ", *problems, fix)
    summary = run.summary()
    assert re.search(rf"REJECT   {name}: \w+ error: ", summary)
    assert re.search(r"FAILED CLOSED: \d+ gate test\(s\) were skipped or errored", summary)
    assert "INCOMPLETE: the verdicts do not cover everything the gate must check" in summary
    results = gate_project.results()
    assert results["complete"] is False
    assert "gate test(s) were skipped or errored" in results["incomplete_reasons"][0]
    (row,) = results["checkpoints"]
    assert row["verdict"] == "REJECT" and row["first_failure"]["message"].startswith(f"{path}: ")
    assert not marker.exists(), "the pickle's payload ran"


def test_pickle_payload_is_live_but_never_runs(gate_project, good_adapter, tmp_path):
    """The control: the payload does run when unpickled, so its absence after the gate means the
    gate never unpickled it (the scan refuses it before any load); torch.load(weights_only=True)
    refuses it too."""
    control_marker = tmp_path / "control-ran"
    control = zoo.write_pickle_payload(tmp_path / "control.bin", control_marker)
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(str(control), weights_only=True)
    assert not control_marker.exists()
    torch.load(str(control), weights_only=False)  # what a pickle-trusting loader does
    assert control_marker.read_text() == "the payload ran"

    marker = tmp_path / "gate-payload-ran"
    checkpoint = zoo.pickled_adapter(good_adapter, gate_project.checkpoint_path("pickled"), marker)
    run = gate_project.run(checkpoint, args=["-k", BASELINE_UNTOUCHED])

    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert "is a pickle that imports __builtin__.exec when loaded" in run.text
    assert not marker.exists(), "the gate unpickled adapter_model.bin"


# ---- untrusted checkpoint folders: each refused alone, the others gated ---------------------

UNTRUSTED = [
    # (name, build(good, path), file named (relative to the checkpoint), problem fragments, fix)
    (
        "no-config",
        zoo.without_config,
        ADAPTER_CONFIG,
        ["is missing: the folder holds adapter weights (adapter_model.safetensors) but no adapter "
         "config"],
        "copy adapter_config.json from where the adapter was saved",
    ),
    (
        "bad-json",
        zoo.invalid_config,
        ADAPTER_CONFIG,
        ["is not valid JSON"],
        "re-save the adapter with save_pretrained",
    ),
    (
        "module-path-leaves",
        zoo.module_path_leaves,
        "modules.json",
        ["module 1 'path' = \"../escaped\" leaves the checkpoint folder"],
        "make module 1 'path' in modules.json a path inside the checkpoint folder",
    ),
    (
        "module-path-absolute",
        zoo.module_path_absolute,
        "modules.json",
        ["module 1 'path' = \"/etc\" leaves the checkpoint folder (an absolute path"],
        "a path inside the checkpoint folder",
    ),
    (
        "weights-link-outside",
        zoo.weights_link_outside,
        ADAPTER_WEIGHTS,
        ["is a link to ", "outside the checkpoint folder"],
        "copy the file into the checkpoint folder instead of linking it",
    ),
    (
        "adapter-folder-link-outside",
        zoo.adapter_folder_link_outside,
        "second",
        ["is a link to ", "-second, outside the checkpoint folder"],
        "copy the file into the checkpoint folder instead of linking it",
    ),
    (
        "record-link-outside",
        zoo.record_link_outside,
        "train_settings.json",
        ["is a link to ", "outside the checkpoint folder"],
        "instead of linking it",
    ),
    (
        "sparse-weights",
        zoo.sparse_weights,
        ADAPTER_WEIGHTS,
        ["is 4,294,967,", "bytes, over the 2 GB limit for a adapter_model.safetensors (checked "
         "before it is read)"],
        "re-save the checkpoint with save_pretrained",
    ),
    (
        "oversized-config",
        zoo.oversized_config,
        ADAPTER_CONFIG,
        ["bytes, over the 1 MB limit for a adapter_config.json"],
        "re-save the checkpoint with save_pretrained",
    ),
    (
        "config-is-a-folder",
        zoo.config_is_a_folder,
        ADAPTER_CONFIG,
        ["is not a file (a folder, or a link to one)"],
        "replace it with the adapter_config.json that save_pretrained wrote",
    ),
    (
        "deeply-nested-config",
        zoo.deeply_nested_config,
        ADAPTER_CONFIG,
        ["is JSON nested too deeply to be a config"],
        "re-save the adapter with save_pretrained",
    ),
    (
        "base-is-a-number",
        zoo.base_is_a_number,
        ADAPTER_CONFIG,
        ["base_model_name_or_path = 3 must be a non-empty string or null"],
        "restore the values the adapter was trained with",
    ),
    (
        "rank-pattern-is-a-list",
        zoo.rank_pattern_is_a_list,
        ADAPTER_CONFIG,
        ['rank_pattern = ["query", 16] must be an object of module name -> a positive whole'],
        "restore the values the adapter was trained with",
    ),
    (
        "modules-to-save-is-a-number",
        zoo.modules_to_save_is_a_number,
        ADAPTER_CONFIG,
        ["modules_to_save = 3 must be a list of module names or null"],
        "restore the values the adapter was trained with",
    ),
    (
        "modules-not-json",
        zoo.modules_not_json,
        "modules.json",
        ["is not valid JSON"],
        "re-save the model with sentence-transformers",
    ),
    (
        "garbage-tokenizer",
        zoo.garbage_tokenizer,
        "tokenizer.json",
        ["is not valid JSON"],
        "re-save the model with save_pretrained, or restore the file",
    ),
]


@dataclass(frozen=True)
class UntrustedRun:
    """One gate run over the good adapter and every checkpoint of UNTRUSTED."""

    run: GateRun
    folders: dict[str, Path]
    results: dict


@pytest.fixture
def untrusted_run(request, once_per_module) -> UntrustedRun:
    def build() -> UntrustedRun:
        project = request.getfixturevalue("gate_project")
        good = request.getfixturevalue("good_adapter")
        folders = {name: make(good, project.checkpoint_path(name)) for name, make, *_ in UNTRUSTED}
        run = project.run(good, *folders.values())
        return UntrustedRun(run, folders, project.results())

    return once_per_module("untrusted checkpoints", build)


@pytest.mark.slow
def test_untrusted_checkpoints_are_refused_alone_and_the_others_gated(untrusted_run):
    run = untrusted_run.run
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in run.text
    assert set(run.outcomes("good-adapter").values()) == {"PASSED"}
    verdicts = {c["name"]: c["verdict"] for c in untrusted_run.results["checkpoints"]}
    refused = dict.fromkeys(untrusted_run.folders, "REJECT")
    assert verdicts == {"good-adapter": "INCOMPLETE"} | refused
    assert not (untrusted_run.folders["module-path-leaves"].parent / "escaped").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "build", "file", "problems", "fix"), cases(UNTRUSTED))
def test_untrusted_checkpoint_is_refused(untrusted_run, name, build, file, problems, fix):
    run = untrusted_run.run
    outcomes = run.outcomes(name)
    assert set(ADAPTER_TESTS) <= set(outcomes)
    assert set(outcomes.values()) == {"ERROR"}  # none ran, none passed
    path = untrusted_run.folders[name] / file
    message = run.section(LOADED, name)
    for fragment in (f"{path}: ", *problems, fix):
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert re.search(rf"REJECT   {name}: \w+ error: ", run.summary())
    (row,) = [c for c in untrusted_run.results["checkpoints"] if c["name"] == name]
    assert row["first_failure"]["message"].startswith(f"{path}: ")


# ---- input the whole run depends on: every gate test fails, NOTHING GATED --------------------


def assert_nothing_gated(run, *fragments: str) -> None:
    assert_refused(run, LOADED, UNUSABLE, "the release gate cannot run: ", *fragments)
    summary = run.summary()
    assert "NOTHING GATED: the release gate cannot run: " in summary
    for fragment in fragments:
        assert fragment in summary
    assert "PASSED" not in run.result.stdout.str()


def test_two_checkpoints_with_one_name_are_refused(gate_project):
    first = gate_project.stub_checkpoint("one/same")
    second = gate_project.stub_checkpoint("two/same")
    run = gate_project.run(first, second)
    assert_nothing_gated(
        run,
        f"{second}: has the same name 'same' as {first}",
        "fix: rename one folder",
    )


def test_empty_checkpoints_directory_gates_nothing(gate_project):
    run = gate_project.run()  # no --checkpoint: everything below the empty models/
    assert_nothing_gated(
        run,
        f"{gate_project.path / 'models'}: the checkpoints directory holds no checkpoint",
        "fix: save an adapter or model into a sub-folder, or pass --checkpoint PATH",
    )
    assert " passed" not in run.text
    assert not re.search(r"\d+ skipped", run.text)


BAD_GATE_TOMLS = [
    # (name, text in gate.toml, replaced by, message fragments)
    (
        "unknown-key",
        "batch_size = 64",
        "batch_sise = 64",
        ["unknown key 'batch_sise' in [gate]", "fix: did you mean 'batch_size'?"],
    ),
    (
        "target-out-of-range",
        "roc_auc = 0.95",
        "roc_auc = 1.5",
        ["[targets] roc_auc = 1.5 is outside its range [0.0, 1.0]", "fix: set roc_auc to a"],
    ),
    # settings that would switch a check off
    (
        "no-comparison-metric",
        'metrics = ["spearman", "roc_auc"]',
        "metrics = []",
        ["[comparison] metrics = [] names no metric", "fix: name the metrics a candidate is"],
    ),
    (
        "calibration-split-is-test-split",
        'calibration_split = "calibration"',
        'calibration_split = "test"',
        [
            "[datasets.it_incidents] calibration_split and test_split are both 'test'",
            "fix: give calibration_split and test_split two different splits of the file",
        ],
    ),
    (
        "calibration-path-is-path",
        'calibration_split = "calibration"',
        f'calibration_path = "{(FIXTURES / ".." / "fixtures" / "it_incidents.jsonl").as_posix()}"',
        [
            f"[datasets.it_incidents] calibration_path is path ({FIXTURES / 'it_incidents.jsonl'})",
            "fix: point calibration_path to a file of other pairs",
        ],
    ),
    (
        "calibration-path-and-split",
        'calibration_split = "calibration"',
        f'calibration_split = "calibration"\ncalibration_path = "{FIXTURES.as_posix()}/x.jsonl"',
        [
            "[datasets.it_incidents] sets both calibration_path and calibration_split",
            "fix: remove calibration_split (the calibration_path file is the calibration part)",
        ],
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "fragments"), cases(BAD_GATE_TOMLS))
def test_bad_gate_toml_is_refused(gate_project, name, old, new, fragments):
    gate_project.set_config(old, new)
    run = gate_project.run(gate_project.stub_checkpoint())
    assert_nothing_gated(run, f"{gate_project.path / 'gate.toml'}: ", *fragments)


def test_gate_tests_that_gate_no_checkpoint_fail_the_run(gate_project):
    (gate_project.path / "test_no_checkpoint.py").write_text(
        "import pytest\n\npytestmark = pytest.mark.gpu\n\n\ndef test_nothing():\n    pass\n",
        encoding="utf-8",
    )
    run = gate_project.run(gate_project.stub_checkpoint(), args=["test_no_checkpoint.py"])

    run.result.assert_outcomes(passed=1)  # alone, pytest would call this a success
    assert run.ret == pytest.ExitCode.TESTS_FAILED
    assert "NOTHING GATED: no gate test ran for a checkpoint" in run.summary()


def test_a_run_without_gate_tests_is_left_alone(gate_project):
    """A parameter id "gpu" is a keyword, not the gpu marker: not a gate run, exit 0."""
    (gate_project.path / "test_plain.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.parametrize("device", ["gpu"])\n'
        "def test_plain(device):\n    pass\n",
        encoding="utf-8",
    )
    result = gate_project.pytester.runpytest_inprocess("-p", "no:cacheprovider", "test_plain.py")
    assert result.ret == pytest.ExitCode.OK
    assert "release gate" not in result.stdout.str()


# ---- data sets: one run, every bad gating set fails its checks --------------------------------

DATA_ZOO = [
    # (name, build(folder) -> path, format, fragment of "path[:line]: problem", fix fragment)
    (
        "missing_column",
        zoo.missing_column,
        "jsonl",
        ":3: missing column 'sentence2'",
        "fix: add a 'sentence2' column to every row",
    ),
    (
        "non_numeric_score",
        zoo.non_numeric_score,
        "csv",
        ":3: score 'high' in column 'score' is not a number",
        "fix: write the score as a decimal number",
    ),
    ("bad_label", zoo.bad_label, "jsonl", ":2: label must be 0 or 1, got int 2", "fix: write"),
    (
        "one_class",
        zoo.one_class,
        "jsonl",
        ": all 8 pairs of the test part carry label 1: ROC-AUC, F1 and the FP rate are undefined "
        "with one class",
        "fix: add pairs of the other class",
    ),
    (
        "one_class_calibration",
        zoo.one_class_calibration,
        "jsonl",
        ": all 6 pairs of the calibration part (split 'calibration') carry label 1: the threshold "
        "policy 'best_f1' cannot pick a threshold with one class",
        "fix: add calibration pairs of the other class",
    ),
    (
        "constant_scores",
        zoo.constant_scores,
        "jsonl",
        ": all 8 pair(s) of the test part carry gold score 3: Spearman and Pearson correlation are "
        "undefined when the gold scores do not vary",
        "fix: add pairs with other scores",
    ),
    (
        "no_calibration",
        zoo.no_calibration,
        "jsonl",
        ": the threshold policy 'best_f1' picks the threshold on a labelled calibration part, and "
        "this data set has none",
        "fix: set calibration_path (or calibration_split and test_split) under "
        "[datasets.no_calibration]",
    ),
    ("empty", zoo.empty_file, "jsonl", ": the file holds no sentence pairs", "fix: point to"),
    (
        "not_utf8",
        zoo.not_utf8,
        "jsonl",
        ":2: byte 0xe9 at offset",
        "fix: re-save the file as UTF-8",
    ),
    (
        "gone",
        lambda folder: folder / "does-not-exist.jsonl",
        "jsonl",
        ": the file does not exist ([datasets.gone] path in gate.toml, role gate)",
        "fix: correct path under [datasets.gone]: a relative path is relative to gate.toml",
    ),
    (
        "shared_pairs",
        zoo.shared_pairs,
        "jsonl",
        ": 2 pair(s) of gating data set 'shared_pairs' are in both its calibration and its test "
        "part (sentence order ignored), e.g. 'vpn keeps disconnecting after 2 minutes' / 'the "
        "vpn drops every 2 minutes on the office wifi': the threshold would be tuned on pairs it "
        "is judged on",
        "fix: remove the shared pairs from one of the parts",
    ),
]
#: the zoo's sets read in two parts, and the keys that take them
IN_SPLITS = 'calibration_split = "calibration"\ntest_split = "test"\n'
PART_KEYS = {"shared_pairs": IN_SPLITS, "one_class_calibration": IN_SPLITS}
#: a reference set over shared_pairs' file: shown with its overlap, never refused
SHARED_REFERENCE = "shared_reference"
QUALITY_TESTS = ("test_beats_baseline", "test_meets_targets", "test_fp_rate_under_target")


@dataclass(frozen=True)
class DataZooRun:
    """The one gate run over every bad gating set of DATA_ZOO: what it printed and wrote."""

    run: GateRun
    paths: dict[str, Path]  # data set name -> the file it points to
    summary: str  # the release gate summary, unwrapped
    results: dict


def run_data_zoo(project, good_adapter) -> DataZooRun:
    """Every bad data set of DATA_ZOO gated at once, on the good adapter, by the quality battery."""
    project.include("test_quality.py")
    folder = project.path / "data"
    folder.mkdir()
    paths = {name: build(folder) for name, build, *_ in DATA_ZOO}
    project.replace_datasets(
        "".join(
            f'[datasets.{name}]\nrole = "gate"\npath = "{paths[name].as_posix()}"\n'
            f'format = "{fmt}"\n{PART_KEYS.get(name, "")}\n'
            for name, _, fmt, *_ in DATA_ZOO
        )
        + f'[datasets.{SHARED_REFERENCE}]\nrole = "reference"\n'
        f'path = "{paths["shared_pairs"].as_posix()}"\nformat = "jsonl"\n'
        + PART_KEYS["shared_pairs"]
    )
    run = project.run(good_adapter, args=["test_quality_battery.py"])
    summary = " ".join(run.summary().split())  # the summary wraps long lines
    return DataZooRun(run, paths, summary, project.results())


@pytest.fixture
def data_zoo(request, once_per_module) -> DataZooRun:
    """The data-zoo run, made by the first test that asks and shared by the others."""
    return once_per_module(
        "data zoo",
        lambda: run_data_zoo(
            request.getfixturevalue("gate_project"), request.getfixturevalue("good_adapter")
        ),
    )


@pytest.mark.slow
def test_bad_data_sets_fail_the_run_and_leave_it_incomplete(data_zoo):
    assert data_zoo.run.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in data_zoo.run.text
    assert "INCOMPLETE" in data_zoo.summary
    assert data_zoo.results["complete"] is False
    gating = [d for d in data_zoo.results["datasets"] if d["role"] == "gate"]
    assert {d["name"]: d["status"] for d in gating} == dict.fromkeys(
        (name for name, *_ in DATA_ZOO), "unreadable"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "problem", "fix"), cases((name, problem, fix) for name, _, _, problem, fix in DATA_ZOO)
)
def test_bad_data_set_fails_its_gating_checks(data_zoo, name, problem, fix):
    run = data_zoo.run
    assert run.outcomes(f"{name}-good-adapter") == dict.fromkeys(QUALITY_TESTS, "ERROR")
    message = run.section("test_beats_baseline", f"{name}-good-adapter")
    expected = f"gating data set '{name}': {data_zoo.paths[name]}{problem}"
    assert expected in message, f"{expected!r} not in\n{message}"
    assert fix in message, f"{fix!r} not in\n{message}"
    assert f"gating data set '{name}' could not be read: " in data_zoo.summary
    reason = f"gating data set '{name}' could not be read: {data_zoo.paths[name]}{problem}"
    assert any(r.startswith(reason) for r in data_zoo.results["incomplete_reasons"]), reason


@pytest.mark.slow
def test_a_reference_set_whose_parts_share_pairs_is_shown_not_refused(data_zoo):
    (reference,) = [d for d in data_zoo.results["datasets"] if d["name"] == SHARED_REFERENCE]
    assert (reference["status"], reference["calibration_overlap"]) == ("ok", 2)
    assert SHARED_REFERENCE not in data_zoo.results["missing_reference_datasets"]
    assert (
        f"data set '{SHARED_REFERENCE}': 2 pair(s) in both the calibration and the test part "
        "(the threshold is tuned on pairs it is judged on)"
    ) in data_zoo.summary


@pytest.mark.slow
def test_a_reference_set_unfit_for_its_metrics_never_fails_a_gating_test(
    gate_project, good_adapter
):
    """A reference set whose calibration part holds one class is named, not evaluated; the
    gating set's quality tests run as ever."""
    gate_project.include("test_quality.py")
    reference = zoo.one_class_calibration(gate_project.path)
    zoo.tiny_gating_set(
        gate_project,
        f'\n[datasets.one_class_reference]\nrole = "reference"\npath = "{reference.as_posix()}"\n'
        f'format = "jsonl"\n{IN_SPLITS}',
    )

    run = gate_project.run(good_adapter, args=["test_quality_battery.py"])

    assert run.outcomes("tiny-good-adapter") == dict.fromkeys(QUALITY_TESTS, "PASSED"), run.text
    assert "Traceback" not in run.text
    problem = (
        f"{reference}: all 6 pairs of the calibration part (split 'calibration') carry label 1: "
        "the threshold policy 'best_f1' cannot pick a threshold with one class"
    )
    summary = " ".join(run.summary().split())
    assert f"reference data set 'one_class_reference' was not evaluated: {problem}" in summary
    results = gate_project.results()
    assert results["missing_reference_datasets"]["one_class_reference"].startswith(problem)
    assert not any("one_class_reference" in r for r in results["incomplete_reasons"])


# ---- session level: a partial run is never a complete one -------------------------------------


@pytest.mark.slow
def test_a_partial_run_says_it_is_incomplete(gate_project, good_adapter):
    """A skipped check, a gating set that cannot be read (its checks not even collected) and a
    checkpoint none of whose tests ran: the run fails, and results.json says why."""
    gate_test = gate_project.add_skipping_gate_test("good-adapter")
    gate_project.set_config('path = "/', 'path = "/nonexistent/')
    gate_project.stub_checkpoint("left-out")

    run = gate_project.run(
        good_adapter,
        gate_project.checkpoint_path("left-out"),
        args=[gate_test, "-k", "not left-out"],
    )

    assert run.ret == pytest.ExitCode.TESTS_FAILED
    results = gate_project.results()
    assert results["complete"] is False
    reasons = results["incomplete_reasons"]
    assert reasons[0].startswith("1 gate test(s) were skipped or errored")
    assert reasons[1].startswith("gating data set 'it_incidents' could not be read: /nonexistent/")
    assert reasons[2].startswith("checkpoint 'good-adapter' is INCOMPLETE: ")
    battery = next(c for c in results["checkpoints"] if c["name"] == "left-out")["required_checks"]
    not_gated = (
        f"checkpoint 'left-out' was not gated: none of its {len(battery)} required checks ran"
    )
    assert reasons[3] == not_gated
    summary = run.summary()
    assert "INCOMPLETE: the verdicts do not cover everything the gate must check:" in summary
    assert f"  - {not_gated}" in summary
    assert "INCOMPLETE left-out: " in summary


# ---- reported, not refused: duplicate pairs and texts beyond the model's maximum length -------


@pytest.mark.slow
def test_duplicate_pairs_and_over_long_texts_are_counted_and_reported(gate_project, good_adapter):
    gate_project.include("test_quality.py")
    zoo.tiny_gating_set(gate_project)

    run = gate_project.run(good_adapter, args=["test_quality_battery.py"])

    run.result.assert_outcomes(passed=3)  # noted, never a failure on their own
    results = gate_project.results()
    [reason] = results["incomplete_reasons"]  # only the checks this run did not select
    assert reason.startswith("checkpoint 'good-adapter' is INCOMPLETE: "), reason
    (dataset,) = results["datasets"]
    assert dataset["n_pairs"] == 14
    assert (dataset["duplicate_pairs"], dataset["truncated_texts"]) == (2, 1)
    summary = " ".join(run.summary().split())
    assert (
        "data set 'tiny': 2 duplicate pair(s), each counted again; 1 text(s) longer than the "
        "baseline's max_seq_length (truncated when encoded)"
    ) in summary
