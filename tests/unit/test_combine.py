"""Unit tests for harness.runs.combine and `python -m harness combine` (and `merge`, its
deprecated name), on report folders written from tests/results_factory.py documents.

A shard here is what `pytest -m gpu --shard K/N` writes for its checkpoints: their checkpoint
entries, evaluations and arrays, plus the baselines' (every shard that gates a checkpoint
evaluates them), its shard and every checkpoint discovered. Of three shards, hashing leaves
shard 1 empty: it gates nothing and loads no baseline."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from results_factory import BOTH, LABELS, build

from harness.checkpoint.discover import shard_index
from harness.errors import GateInputError
from harness.report.folder import read_report
from harness.runs.cli import main
from harness.runs.combine import combine_runs, stable

Run = tuple[dict[str, Any], dict[str, np.ndarray]]
BASELINE = "base"
NAMES = ("cand-a", "cand-b", "cand-c")
SHARDS = 3
#: what --shard K/3 gates: shard_index hashes cand-b to 2, cand-a and cand-c to 3
ON_SHARD = {k: tuple(n for n in NAMES if shard_index(n, SHARDS) == k) for k in (1, 2, 3)}
DEPRECATION = "`python -m harness merge` is deprecated: use `python -m harness combine`"


@pytest.fixture(scope="module")
def whole() -> Run:
    """One run over three candidates (cand-c REJECT) on a gating and a reference data set."""
    results, arrays = build(
        candidates={"cand-a": 0.9, "cand-b": 0.8, "cand-c": 0.2},
        baselines={BASELINE: 0.5},
        datasets={"sts": BOTH, "pairs": LABELS},
        rejected={"cand-c": ("beats_baseline[sts]", "does not beat\nthe baseline")},
    )
    results["not_applicable"] = [
        {"check": "test_lora_rank", "checkpoint": name, "reason": "a full model has no adapter"}
        for name in ("cand-a", "cand-b")
    ]
    results["missing_reference_datasets"] = {"legacy": "legacy.tsv: no such file"}
    return results, arrays


def shard_of(
    run: Run, names: tuple[str, ...], run_block: dict[str, Any], shard: tuple[int, int] | None
) -> Run:
    """The part of `run` a run gating `names` of the checkpoints it discovered writes, with its
    own `run` block and `shard` (K, N), or None (an xdist worker of an unsharded run). A run
    gating none evaluates nothing, not even the baselines."""
    results, arrays = copy.deepcopy(run)
    models = {*names, BASELINE} if names else set()
    results["checkpoints"] = [c for c in results["checkpoints"] if c["name"] in names]
    results["evaluations"] = [e for e in results["evaluations"] if e["model"] in models]
    results["not_applicable"] = [n for n in results["not_applicable"] if n["checkpoint"] in names]
    results["run"] = run_block
    results["encode_events"] = [{"message": f"batch size halved for {n}"} for n in names]
    results["shard"] = {"index": shard[0], "count": shard[1]} if shard else None
    if not names:
        results["baselines"] = []
        for dataset in results["datasets"]:
            dataset["truncated_texts"] = None  # counted when the baseline encodes the set
    arrays = {
        key: value
        for key, value in arrays.items()
        if key.split("|")[0] in ("gold", "labels") or key.split("|")[1] in models
    }
    return results, arrays


def shard_run(run: Run, k: int, run_block: dict[str, Any]) -> Run:
    """What `--shard k/3` writes."""
    return shard_of(run, ON_SHARD[k], run_block, (k, SHARDS))


def run_over(run: Run, names: tuple[str, ...], run_block: dict[str, Any]) -> Run:
    """What an unsharded run over only `names` (`--checkpoint`) writes."""
    results, arrays = shard_of(run, names, run_block, None)
    results["discovered"] = [d for d in results["discovered"] if d["name"] in names]
    return results, arrays


def save(folder: Path, run: Run) -> Path:
    """A report folder holding the run's results.json and scores.npz."""
    results, arrays = run
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    np.savez_compressed(folder / "scores.npz", **arrays)  # type: ignore[arg-type]
    return folder


RUNS = {
    1: {
        "started": "2026-01-01T02:00:00+00:00", "finished": "2026-01-01T02:00:30+00:00",
        "seconds": 30.0, "texts_encoded": {},
    },
    2: {
        "started": "2026-01-01T02:01:00+00:00", "finished": "2026-01-01T02:10:00+00:00",
        "seconds": 540.0, "texts_encoded": {"baseline/base": 240, "cand-b": 240},
    },
    3: {
        "started": "2026-01-01T02:00:10+00:00", "finished": "2026-01-01T02:20:00+00:00",
        "seconds": 1190.5, "texts_encoded": {"baseline/base": 240, "cand-a": 240, "cand-c": 0},
    },
}


@pytest.fixture
def shards(tmp_path, whole) -> list[Path]:
    """The report folders of --shard 1/3, 2/3 and 3/3 (1/3 empty)."""
    assert ON_SHARD == {1: (), 2: ("cand-b",), 3: ("cand-a", "cand-c")}
    return [save(tmp_path / f"shard-{k}", shard_run(whole, k, RUNS[k])) for k in (1, 2, 3)]


def edited(folder: Path, edit) -> Path:
    """`folder`'s results.json changed in place by `edit(results)`."""
    path = folder / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    edit(results)
    path.write_text(json.dumps(results), encoding="utf-8")
    return folder


def test_shards_combine_into_the_whole_run(shards, whole):
    results, arrays = combine_runs(shards)

    expected = copy.deepcopy(whole[0])
    expected["evaluations"].sort(key=lambda e: (e["model"], e["dataset"]))
    expected["encode_events"] = [
        {"message": f"batch size halved for {n}"} for n in (*ON_SHARD[2], *ON_SHARD[3])
    ]
    assert stable(results) == stable(expected)  # shard null, every checkpoint discovered
    assert [c["verdict"] for c in results["checkpoints"]] == ["PROMOTE", "PROMOTE", "REJECT"]
    assert list(arrays) == sorted(whole[1])  # every shard's arrays, the baselines' once
    for key, value in whole[1].items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def test_counts_and_times_are_summed_over_the_shards(shards):
    results, _ = combine_runs(shards)

    assert results["run"] == {
        "started": RUNS[1]["started"],
        "finished": RUNS[3]["finished"],
        "seconds": 1760.5,
        "merged_from": [str(folder) for folder in shards],
        "texts_encoded": {"baseline/base": 480, "cand-a": 240, "cand-b": 240, "cand-c": 0},
    }


def test_one_incomplete_shard_makes_the_combined_run_incomplete(shards):
    reasons = ["data set 'sts' could not be read", "a gate test was deselected"]
    edited(shards[1], lambda r: r.update(complete=False, incomplete_reasons=reasons))

    results, _ = combine_runs(shards)

    assert results["complete"] is False
    assert results["incomplete_reasons"] == reasons
    edited(shards[0], lambda r: r.update(complete=False, incomplete_reasons=reasons[:1]))
    assert combine_runs(shards)[0]["incomplete_reasons"] == reasons  # each reason once


def test_each_shards_errors_on_a_reference_set_are_kept(shards):
    def failed(model: str):
        def edit(r):
            r["datasets"][1].update(status="failed", evaluation_errors={model: f"{model} broke"})

        return edit

    edited(shards[1], failed("cand-b"))
    (_, reference) = combine_runs(shards)[0]["datasets"]
    assert (reference["status"], reference["evaluation_errors"]) == (
        "failed", {"cand-b": "cand-b broke"}
    )  # fmt: skip
    edited(shards[0], failed("cand-a"))
    (_, reference) = combine_runs(shards)[0]["datasets"]
    assert reference["evaluation_errors"] == {"cand-a": "cand-a broke", "cand-b": "cand-b broke"}


def _other_config(r):
    r["config"]["comparison"]["n_resamples"] = 300


def _other_data(r):
    r["datasets"][0]["fingerprint"] = "ff" * 32


def _other_baseline_weights(r):
    r["baselines"][0]["weights_fingerprint"] = "00" * 32


def _other_baseline_evaluation(r):
    evaluation = next(e for e in r["evaluations"] if e["model"] == BASELINE)
    evaluation["metrics"]["spearman"]["value"] += 0.01


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (_other_config, "the configuration (gate.toml)"),
        (_other_data, "the data sets (fingerprints)"),
        (_other_baseline_weights, "the baselines (weights fingerprints)"),
        (_other_baseline_evaluation, "the baseline evaluation ('base', 'sts')"),
        (lambda r: r.update(schema_version=r["schema_version"] + 1), "the schema version"),
    ],
)
def test_disagreeing_shards_are_refused_naming_the_folder(shards, edit, what):
    edited(shards[2], edit)

    with pytest.raises(GateInputError) as refused:
        combine_runs(shards)

    message = str(refused.value)
    assert f"the runs disagree on {what}" in message
    assert str(shards[2]) in message
    assert "fix: combine only shards of one nightly run" in message


def test_shards_may_read_gate_toml_from_different_paths(shards):
    edited(shards[1], lambda r: r["config"].update(path="/elsewhere/gate.toml"))

    results, _ = combine_runs(shards)

    assert len(results["checkpoints"]) == 3


def test_a_checkpoint_gated_by_two_shards_is_refused(whole, shards):
    cand_a = next(c for c in whole[0]["checkpoints"] if c["name"] == "cand-a")
    edited(shards[1], lambda r: r["checkpoints"].append(cand_a))  # cand-a is shard 3's

    with pytest.raises(GateInputError) as refused:
        combine_runs(shards)

    assert str(shards[2]) in str(refused.value)
    assert "checkpoint 'cand-a' was gated by more than one run" in str(refused.value)


@pytest.mark.parametrize(
    ("missing", "should_have_gated"), [(3, "cand-a, cand-c"), (1, "none (empty)")]
)
def test_a_missing_shard_is_refused_naming_it_and_its_checkpoints(
    tmp_path, shards, capsys, missing, should_have_gated
):
    given = [folder for k, folder in enumerate(shards, 1) if k != missing]

    with pytest.raises(GateInputError) as refused:
        combine_runs(given)

    message = str(refused.value)
    assert "1 of 3 shards have no report among the folders given" in message
    assert f"shard {missing}/3: {should_have_gated}" in message
    assert all(str(folder) in message for folder in given)
    assert "fix: pass every shard's report folder" in message
    assert main(["combine", "--out", str(tmp_path / "out"), *map(str, given)]) == 2  # CI fails
    assert f"shard {missing}/3: {should_have_gated}" in capsys.readouterr().err


def test_a_shard_given_twice_is_refused(tmp_path, whole, shards):
    again = save(tmp_path / "again", shard_run(whole, 2, RUNS[2]))

    with pytest.raises(GateInputError) as refused:
        combine_runs([*shards, again])

    assert f"{again}: is shard 2/3, and so is {shards[1]}" in str(refused.value)
    assert "fix: pass each shard's report folder once" in str(refused.value)


def _without_cand_c(r):
    r["discovered"] = [d for d in r["discovered"] if d["name"] != "cand-c"]


def _with_cand_d(r):
    r["discovered"].append({"name": "cand-d", "fingerprint": "0d" * 32})


def _cand_a_saved_again(r):
    next(d for d in r["discovered"] if d["name"] == "cand-a")["fingerprint"] = "aa" * 32


@pytest.mark.parametrize(
    ("edit", "difference"),
    [
        (_without_cand_c, "cand-c: only in {first}"),
        (_with_cand_d, "cand-d: only here"),
        (_cand_a_saved_again, f"cand-a: other files (fingerprint {'aa' * 6}, there 00cdcdcdcdcd)"),
    ],
    ids=["one-fewer", "one-more", "other-files"],
)
def test_shards_that_discovered_other_checkpoints_are_refused(shards, edit, difference):
    edited(shards[2], edit)

    with pytest.raises(GateInputError) as refused:
        combine_runs(shards)

    message = str(refused.value)
    assert message.startswith(f"{shards[2]}: discovered other checkpoints than {shards[0]}:")
    assert difference.format(first=shards[0]) in message
    assert "fix: combine the shards of one run over one checkpoints folder" in message


def test_shards_of_different_counts_are_refused(shards):
    edited(shards[2], lambda r: r["shard"].update(count=4))

    with pytest.raises(GateInputError) as refused:
        combine_runs(shards)

    assert "the runs disagree on the number of shards (N of --shard K/N)" in str(refused.value)
    assert f"{shards[2]}: 4" in str(refused.value)


def test_an_unsharded_run_among_shards_is_refused(tmp_path, whole, shards):
    unsharded = save(tmp_path / "unsharded", whole)

    with pytest.raises(GateInputError) as refused:
        combine_runs([*shards[1:], unsharded])

    message = str(refused.value)
    assert f"{unsharded}: is a run over every checkpoint (no --shard)" in message
    assert f"{shards[1]} (2/3)" in message


def test_a_complete_set_covers_every_checkpoint_discovered(shards, whole):
    results, _ = combine_runs(shards)

    assert results["shard"] is None  # one run over every checkpoint, as an unsharded run
    assert results["discovered"] == whole[0]["discovered"]
    assert [d["name"] for d in results["discovered"]] == list(NAMES)
    assert [c["name"] for c in results["checkpoints"]] == list(NAMES)


def test_a_checkpoint_no_shard_gated_is_refused(shards):
    edited(shards[2], lambda r: r.update(checkpoints=r["checkpoints"][:1]))  # cand-c lost

    with pytest.raises(GateInputError) as refused:
        combine_runs(shards)

    assert "gated cand-c, which every run discovered" in str(refused.value)


def test_an_empty_shard_combines_like_any_other(shards, whole):
    _, empty, _ = read_report(shards[0])
    assert (empty["shard"], empty["checkpoints"], empty["baselines"]) == (
        {"index": 1, "count": 3}, [], []
    )

    results, _ = combine_runs(shards)  # the empty shard first: nothing taken from it

    assert results["baselines"] == whole[0]["baselines"]
    assert results["datasets"] == whole[0]["datasets"]
    assert str(shards[0]) in results["run"]["merged_from"]
    assert combine_runs(shards[::-1])[0]["checkpoints"] == results["checkpoints"]


def test_workers_of_a_shard_combine_into_that_shard(tmp_path, whole):
    """xdist workers of `--shard 3/3` each list the shard's checkpoints with their own checks."""
    first = save(tmp_path / "gw0", shard_run(whole, 3, RUNS[3]))
    second = save(tmp_path / "gw1", shard_run(whole, 3, RUNS[3]))
    edited(second, lambda r: [c.update(checks=[]) for c in r["checkpoints"]])

    results, _ = combine_runs([first, second], split_checkpoints=True)

    assert results["shard"] == {"index": 3, "count": 3}
    assert [c["name"] for c in results["checkpoints"]] == list(ON_SHARD[3])
    assert [c["verdict"] for c in results["checkpoints"]] == ["PROMOTE", "REJECT"]


def test_workers_sharing_a_checkpoint_are_joined_and_its_verdict_recomputed(tmp_path, whole):
    def worker(name: str, check: str, outcome: str, profile: dict | None) -> Path:
        results, arrays = run_over(whole, ("cand-a",), RUNS[3])
        entry = {"check": check, "outcome": outcome, "message": f"{check} {outcome}"}
        failed = outcome != "passed"
        results["checkpoints"][0].update(
            checks=[entry], verdict="REJECT" if failed else "PROMOTE",
            first_failure=entry if failed else None, change_profile=profile,
        )
        return save(tmp_path / name, (results, arrays))

    profile = {"n_modules": 12, "n_changed": 12}
    first = worker("gw0", "test_z_last", "passed", None)
    second = worker("gw1", "test_a_first", "failed", profile)
    third = worker("gw2", "test_m_middle", "error", None)

    results, _ = combine_runs([first, second, third], split_checkpoints=True)

    (joined,) = results["checkpoints"]
    checks = [c["check"] for c in joined["checks"]]
    assert checks == ["test_a_first", "test_m_middle", "test_z_last"]
    assert joined["verdict"] == "REJECT"  # not gw0's PROMOTE: recomputed over all checks
    assert joined["first_failure"]["check"] == "test_a_first"  # by name, not by worker
    assert joined["change_profile"] == profile  # the worker that has one
    results, _ = combine_runs([third, first], split_checkpoints=True)
    assert results["checkpoints"][0]["first_failure"]["check"] == "test_m_middle"


def test_workers_completing_a_battery_together_promote_and_one_share_alone_is_incomplete(
    tmp_path, whole
):
    def worker(name: str, check: str) -> Path:
        results, arrays = run_over(whole, ("cand-a",), RUNS[3])
        row = results["checkpoints"][0]
        entry = {"check": check, "outcome": "passed", "message": ""}
        # as a worker writes it: its own share, nothing judged missing
        row.update(checks=[entry], missing_checks=[c for c in row["required_checks"] if c != check])
        return save(tmp_path / name, (results, arrays))

    required = whole[0]["checkpoints"][0]["required_checks"]
    assert len(required) == 2
    shares = [worker(f"gw{i}", check) for i, check in enumerate(required)]

    results, _ = combine_runs(shares, split_checkpoints=True)
    (joined,) = results["checkpoints"]
    assert (joined["verdict"], joined["missing_checks"]) == ("PROMOTE", [])
    assert (results["complete"], results["incomplete_reasons"]) == (True, [])

    results, _ = combine_runs(shares[:1], split_checkpoints=True)
    (alone,) = results["checkpoints"]
    assert (alone["verdict"], alone["missing_checks"]) == ("INCOMPLETE", required[1:])
    assert results["complete"] is False
    assert results["incomplete_reasons"] == [
        f"checkpoint 'cand-a' is INCOMPLETE: 1 required check(s) did not run: {required[1]}"
    ]


def test_unreadable_input_is_refused_naming_the_file(tmp_path, whole, shards):
    (shards[1] / "scores.npz").unlink()
    with pytest.raises(GateInputError) as no_arrays:
        combine_runs(shards)
    assert str(shards[1] / "scores.npz") in str(no_arrays.value)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GateInputError) as no_results:
        combine_runs([shards[0], empty])
    assert f"{empty}: this folder has no results.json" in str(no_results.value)

    with pytest.raises(GateInputError, match="no report folders were given"):
        combine_runs([])


def test_a_results_json_path_stands_for_its_folder(shards):
    results, _ = combine_runs([shards[0] / "results.json", *shards[1:]])

    assert results["run"]["merged_from"] == [str(folder) for folder in shards]


def test_the_command_writes_one_report_and_exits_by_the_verdicts(tmp_path, whole, shards, capsys):
    status = main(["combine", "--out", str(tmp_path / "out"), *map(str, shards)])

    out = capsys.readouterr()
    assert status == 1  # cand-c is rejected
    assert DEPRECATION not in out.err
    assert "REJECT   cand-c: beats_baseline[sts] failed: does not beat the baseline" in out.out
    folder, written, _ = read_report(tmp_path / "out" / "latest")
    assert written == combine_runs(shards)[0]
    assert (folder / "report.html").is_file() and (folder / "leaderboard.md").is_file()

    only_a = save(tmp_path / "only-a", run_over(whole, ("cand-a",), RUNS[3]))
    assert main(["combine", "--out", str(tmp_path / "promoted"), str(only_a)]) == 0


def test_the_command_exits_2_on_disagreeing_shards(tmp_path, shards, capsys):
    edited(shards[1], _other_data)

    status = main(["combine", "--out", str(tmp_path / "out"), *map(str, shards)])

    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(shards[0]) in err and str(shards[1]) in err
    assert not (tmp_path / "out").exists()


def test_merge_is_the_deprecated_name_of_combine(tmp_path, shards, capsys):
    status = main(["merge", "--out", str(tmp_path / "out"), *map(str, shards)])

    out = capsys.readouterr()
    assert status == 1
    assert DEPRECATION in out.err
    assert "REJECT   cand-c" in out.out
    _, written, _ = read_report(tmp_path / "out" / "latest")
    assert written == combine_runs(shards)[0]
