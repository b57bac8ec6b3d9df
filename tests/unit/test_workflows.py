"""The CI workflows parse, and run the commands the README promises."""

from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def commands(workflow: dict, job: str) -> str:
    return "\n".join(step.get("run", "") for step in workflow["jobs"][job]["steps"])


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_workflow_parses_with_jobs_and_steps(name):
    workflow = load(name)
    assert workflow["jobs"], name
    for job in workflow["jobs"].values():
        assert job["steps"] and "runs-on" in job


def test_pull_requests_run_the_cpu_suite():
    workflow = load("tests.yml")
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert ".venv/bin/python -m pytest" in commands(workflow, "tests")


def test_nightly_gates_on_gpu_shards_combines_and_compares():
    workflow = load("nightly.yml")
    gate = workflow["jobs"]["gate"]
    assert gate["runs-on"] == ["self-hosted", "gpu"]
    assert "--device cuda" in commands(workflow, "gate")
    assert "--shard ${{ matrix.shard }}/" in commands(workflow, "gate")
    combine = commands(workflow, "combine")
    assert "python -m harness combine" in combine and "python -m harness compare" in combine
    steps = workflow["jobs"]["combine"]["steps"]
    assert any("upload-artifact" in step.get("uses", "") for step in steps)


def test_nightly_fails_unless_every_shard_is_combined():
    """A failing or dead shard still reaches the combine, which reads every shard's report and
    refuses (exit 2) when one is missing; the workflow fails when the combine did not pass."""
    workflow = load("nightly.yml")
    gate_step = next(s for s in workflow["jobs"]["gate"]["steps"] if "--shard" in s.get("run", ""))
    assert gate_step["continue-on-error"] is True
    combine_job = workflow["jobs"]["combine"]
    assert combine_job["if"] == "${{ !cancelled() }}"  # runs after a gate job that failed
    steps = {step.get("id"): step for step in combine_job["steps"]}
    assert "reports/shard-*/latest" in steps["combine"]["run"]  # every shard's folder
    verdict = combine_job["steps"][-1]
    assert verdict["if"] == "steps.combine.outcome != 'success'"
    assert verdict["run"].strip() == "exit 1"


def test_release_publishes_only_after_the_gate_promoted():
    workflow = load("release.yml")
    assert "--promote-to" in commands(workflow, "gate")
    assert workflow["jobs"]["publish"]["needs"] == "gate"
    assert "gate-record.json" in commands(workflow, "publish")
    assert '.get("complete") is True' in commands(workflow, "publish")  # a complete battery
