"""results.json built from plain data (context, findings, outcomes), without a model.

The evaluations are computed by the gate's own evaluate / compare_with_baseline / own_intervals on
embeddings made up per text, over the bundled IT fixture read by the gate's reader.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from made_up_models import made_up_encoder
from paths import REPO

from harness.checkpoint.discover import ST_MODULES, read_checkpoint, select_shard
from harness.checkpoint.fingerprints import directory_fingerprint
from harness.config import load_config
from harness.errors import DataError
from harness.quality.evaluate import compare_with_baseline, evaluate, load_dataset, own_intervals
from harness.report.document import SCHEMA_VERSION, build_results, score_arrays
from harness.report.folder import write_report
from harness.report.terminal import render_summary
from harness.run.battery import required_checks
from harness.run.context import BaselineRecord, RunContext
from harness.run.findings import Findings
from harness.run.outcomes import CheckOutcome, NotApplicable, Outcomes

STARTED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FINISHED = STARTED + timedelta(seconds=42.25)

GATE_TOML = f"""
[gate]
checkpoints_dir = "{(REPO / 'models').as_posix()}"
[[baselines]]
name = "base-line"
model = "sentence-transformers/all-MiniLM-L6-v2"
[effect]
probe_path = "{(REPO / 'fixtures' / 'probe_sentences.txt').as_posix()}"
[comparison]
n_resamples = 200
[targets]
spearman = 0.80
roc_auc = 0.95
fp_rate = 0.20
[datasets.it_incidents]
role = "gate"
path = "{(REPO / 'fixtures' / 'it_incidents.jsonl').as_posix()}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"
[datasets.absent_reference]
role = "reference"
path = "{(REPO / 'fixtures' / 'no-such-file.jsonl').as_posix()}"
format = "jsonl"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Context, findings and outcomes of a one-checkpoint run, as the session would hold them."""
    path = tmp_path_factory.mktemp("gate") / "gate.toml"
    path.write_text(GATE_TOML, encoding="utf-8")
    config = load_config(path)
    datasets = {}
    for spec in config.datasets:
        try:
            datasets[spec.name] = load_dataset(spec, config.threshold)
        except DataError as exc:
            datasets[spec.name] = exc
    checkpoint = read_checkpoint(REPO / "models" / "minilm-stsb-lora")
    data = datasets["it_incidents"]
    baseline = evaluate("base-line", "baseline", data, made_up_encoder("b"), config.threshold)
    own_intervals(baseline, data, config.comparison)
    candidate = evaluate(checkpoint.name, "candidate", data, made_up_encoder("c"), config.threshold)
    compare_with_baseline(candidate, baseline, data, config.comparison)
    findings = Findings()
    findings.record_evaluation(candidate)
    findings.record_evaluation(baseline)
    findings.truncated_texts["it_incidents"] = 3
    findings.probe_distances[checkpoint.name] = np.array([0.1, 0.2], np.float32)
    context = RunContext(
        config=config,
        checkpoints=[checkpoint],
        datasets=datasets,
        started=STARTED,
        baselines=[BaselineRecord("base-line", "hub/id", "/models/base", "f" * 64)],
        environment={"device": "cpu"},
        texts_encoded={"candidate/x/shipped": 5, "baseline/base-line": 7},
        encode_events=[{"kind": "out_of_memory"}],
    )
    return context, findings, checkpoint.name


def outcomes_of(name: str, *results: tuple[str, str]) -> Outcomes:
    outcomes = Outcomes()
    for check, outcome in results:
        message = "" if outcome == "passed" else f"{check} {outcome}"
        outcomes.record(f"{check}[{name}]", CheckOutcome(name, check, outcome, message))
    return outcomes


def battery_of(context: RunContext) -> list[str]:
    return required_checks(context.checkpoints[0], context.config, "cpu")


def test_a_passing_complete_run(run):
    context, findings, name = run
    battery = battery_of(context)
    outcomes = outcomes_of(name, *((check, "passed") for check in battery), ("a_check", "passed"))
    outcomes.not_applicable.append(NotApplicable("z_check", name, "why"))
    outcomes.not_applicable.append(NotApplicable("b_check", name, "why"))
    doc = build_results(context, findings, outcomes, finished=FINISHED)

    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["run"] == {
        "started": "2026-12-01T12:00:00+00:00",
        "finished": "2026-12-01T12:00:42+00:00",
        "seconds": 42.2,
        "texts_encoded": {"baseline/base-line": 7, "candidate/x/shipped": 5},
    }
    assert doc["complete"] is True and doc["incomplete_reasons"] == []
    [checkpoint] = doc["checkpoints"]
    assert checkpoint["verdict"] == "PROMOTE" and checkpoint["first_failure"] is None
    assert [c["check"] for c in checkpoint["checks"]] == sorted([*battery, "a_check"])
    assert checkpoint["required_checks"] == battery and checkpoint["missing_checks"] == []
    assert checkpoint["kind"] == "adapter" and checkpoint["adapter_name"] == "default"
    assert checkpoint["change_profile"] is None and checkpoint["throughput"] is None
    assert [n["check"] for n in doc["not_applicable"]] == ["b_check", "z_check"]
    assert doc["baselines"] == [
        {
            "name": "base-line",
            "model": "hub/id",
            "path": "/models/base",
            "revision": None,  # not from the Hugging Face cache
            "weights_fingerprint": "f" * 64,
            "pipeline": None,  # recorded when the baseline is loaded
        }
    ]
    assert checkpoint["base_path"] is None and checkpoint["base_revision"] is None  # not loaded
    assert doc["encode_events"] == [{"kind": "out_of_memory"}]
    json.dumps(doc)  # JSON-ready as it is


def test_a_battery_not_run_to_its_end_is_incomplete_never_promote(run):
    context, findings, name = run
    battery = battery_of(context)
    left_out = ["encode_throughput[merged-float32-b16]", "meets_targets[it_incidents]"]
    ran = [(check, "passed") for check in battery if check not in left_out]
    doc = build_results(context, findings, outcomes_of(name, *ran), finished=FINISHED)
    [checkpoint] = doc["checkpoints"]
    assert (checkpoint["verdict"], checkpoint["first_failure"]) == ("INCOMPLETE", None)
    assert checkpoint["missing_checks"] == left_out
    assert doc["complete"] is False
    assert doc["incomplete_reasons"] == [
        f"checkpoint '{name}' is INCOMPLETE: 2 required check(s) did not run: {', '.join(left_out)}"
    ]
    # a failure decides on its own: REJECT, with the checks that did not run still listed
    ran[0] = (ran[0][0], "failed")
    doc = build_results(context, findings, outcomes_of(name, *ran), finished=FINISHED)
    [checkpoint] = doc["checkpoints"]
    assert checkpoint["verdict"] == "REJECT" and checkpoint["first_failure"]["check"] == ran[0][0]
    assert checkpoint["missing_checks"] == left_out and doc["complete"] is False
    # an xdist worker's share: its checks recorded, none judged missing (the controller does)
    worker = build_results(context, findings, outcomes_of(name, *ran[1:]), finished=FINISHED,
                           gated_only=True)
    assert worker["complete"] is True and worker["checkpoints"][0]["checks"]


def test_data_sets_readable_and_not(run):
    context, findings, name = run
    everything = ((check, "passed") for check in battery_of(context))
    doc = build_results(context, findings, outcomes_of(name, *everything), finished=FINISHED)
    gating, reference = doc["datasets"]
    assert gating["status"] == "ok" and gating["n_pairs"] == 290
    assert gating["n_calibration_pairs"] == 190 and gating["truncated_texts"] == 3
    assert reference["status"] == "unreadable" and "no-such-file.jsonl" in reference["error"]
    assert list(doc["missing_reference_datasets"]) == ["absent_reference"]
    assert doc["complete"] is True, "an unreadable reference set never makes a run incomplete"


def test_baseline_and_candidate_evaluations(run):
    context, findings, name = run
    doc = build_results(context, findings, outcomes_of(name, ("a", "passed")), finished=FINISHED)
    baseline, candidate = sorted(doc["evaluations"], key=lambda e: e["role"])
    assert [e["model"] for e in doc["evaluations"]] == ["base-line", name]  # by (model, data)
    spearman = baseline["metrics"]["spearman"]
    assert spearman["delta"] == 0.0 and spearman["delta_ci"] == [0.0, 0.0]
    assert spearman["ci"][0] < spearman["value"] < spearman["ci"][1]
    assert baseline["compared_with"] == "base-line" and not baseline["identical_to_baseline"]
    row = candidate["metrics"]["roc_auc"]
    assert row["baseline"] == baseline["metrics"]["roc_auc"]["value"]
    assert row["delta"] == pytest.approx(row["value"] - row["baseline"])
    assert candidate["compared_with"] == "base-line" and candidate["n_pairs"] == 290
    assert candidate["threshold"]["policy"] and candidate["confusion_matrix"] is not None


def test_a_failure_rejects_and_an_error_makes_the_run_incomplete(run):
    context, findings, name = run
    everything = [(check, "passed") for check in battery_of(context)]
    outcomes = outcomes_of(name, ("z_fails", "failed"), ("b_errs", "error"), *everything)
    doc = build_results(context, findings, outcomes, finished=FINISHED)
    [checkpoint] = doc["checkpoints"]
    assert checkpoint["verdict"] == "REJECT"
    assert checkpoint["first_failure"]["check"] == "b_errs"  # the first by name
    assert doc["complete"] is False
    assert doc["incomplete_reasons"] == [
        "1 gate test(s) were skipped or errored, so their checks have no verdict (FAILED CLOSED)"
    ]


def test_an_ungated_checkpoint(run):
    context, findings, name = run
    doc = build_results(context, findings, Outcomes(), finished=FINISHED)
    assert doc["checkpoints"][0]["verdict"] == "INCOMPLETE"
    assert doc["checkpoints"][0]["missing_checks"] == battery_of(context)
    assert doc["incomplete_reasons"] == [
        f"checkpoint '{name}' was not gated: none of its {len(battery_of(context))} required "
        "checks ran"
    ]
    worker = build_results(context, findings, Outcomes(), finished=FINISHED, gated_only=True)
    assert worker["complete"] is True, "another worker may gate it"


def test_where_bases_and_baselines_were_found(run):
    context, findings, name = run
    commit = "1" * 40
    snapshot = f"/hf/models--team--base/snapshots/{commit}"
    context = replace(
        context, baselines=[replace(context.baselines[0], path=snapshot, revision=commit)]
    )
    found = replace(findings, bases={name: {"path": snapshot, "revision": commit}})

    doc = build_results(context, found, Outcomes(), finished=FINISHED)

    assert doc["baselines"][0]["path"] == snapshot and doc["baselines"][0]["revision"] == commit
    [checkpoint] = doc["checkpoints"]
    assert checkpoint["base_path"] == snapshot and checkpoint["base_revision"] == commit


def test_an_unreadable_gating_set_makes_the_run_incomplete(run, tmp_path):
    context, findings, name = run
    error = DataError(tmp_path / "gone.jsonl", "the file does not exist", "restore it")
    broken = RunContext(
        context.config, context.checkpoints, {**context.datasets, "it_incidents": error}, STARTED,
        environment=context.environment,
    )
    everything = ((check, "passed") for check in battery_of(context))
    doc = build_results(broken, findings, outcomes_of(name, *everything), finished=FINISHED)
    assert doc["complete"] is False
    assert doc["incomplete_reasons"] == [
        f"gating data set 'it_incidents' could not be read: {str(error).splitlines()[0]}"
    ]
    assert doc["datasets"][0]["status"] == "unreadable"


def test_a_shard_records_itself_and_every_checkpoint_discovered(run, tmp_path):
    context, findings, name = run
    others = []
    for other in ("charlie", "alpha"):
        (tmp_path / other).mkdir()
        (tmp_path / other / ST_MODULES).write_text("[]", encoding="utf-8")
        others.append(read_checkpoint(tmp_path / other))
    discovered = [*context.checkpoints, *others]
    assert select_shard(discovered, 2, 2) == []  # hashing leaves shard 2 of 2 empty
    environment = {"device": "cpu", "device_note": "cpu", "dtype": "float32", "versions": {}}
    empty = RunContext(
        context.config, [], context.datasets, STARTED, shard=(2, 2), discovered=discovered,
        environment=environment,
    )

    doc = build_results(empty, Findings(), Outcomes(), finished=FINISHED)

    assert doc["shard"] == {"index": 2, "count": 2}
    assert doc["discovered"] == [
        {"name": c.name, "fingerprint": directory_fingerprint(c.path)}
        for c in sorted(discovered, key=lambda c: c.name)
    ]
    assert (doc["checkpoints"], doc["complete"]) == ([], True)
    assert "0 of 3 checkpoints on shard 2/2" in render_summary(doc)
    folder = write_report(doc, score_arrays(empty, Findings()), tmp_path / "out", when=FINISHED)
    assert (folder / "report.html").is_file()  # an empty shard's report renders

    unsharded = replace(context, environment=environment, encode_events=[])
    whole = build_results(unsharded, findings, Outcomes(), finished=FINISHED)
    assert whole["shard"] is None
    assert whole["discovered"] == [
        {"name": name, "fingerprint": whole["checkpoints"][0]["fingerprint"]}
    ]
    assert "checkpoints on shard" not in render_summary(whole)


def test_score_arrays(run):
    context, findings, name = run
    arrays = score_arrays(context, findings)
    assert sorted(arrays) == [
        "gold|it_incidents",
        "labels|it_incidents",
        f"probe_distance|{name}",
        "scores|base-line|it_incidents",
        f"scores|{name}|it_incidents",
    ]
    assert arrays["labels|it_incidents"].shape == arrays["gold|it_incidents"].shape == (290,)
    assert arrays["scores|base-line|it_incidents"] is findings.evaluation(
        "base-line", "it_incidents"
    ).scores
