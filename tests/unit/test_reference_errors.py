"""A reference data set never fails a gate test. Whatever raises while a model is evaluated on one
is recorded under that set and shown (the summary, results.json, report.html), and the gating
sets are evaluated as ever; on a gating set it raises, and fails that set's quality tests. A
reference set unfit for its metrics is named as not evaluated when it is read.

The real GateSession evaluates real data files, with embeddings made up per text."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from made_up_models import MadeUpModels, made_up_candidate, made_up_encoder
from paths import REPO

from harness.config import load_config
from harness.errors import DataError
from harness.report.document import build_results, score_arrays
from harness.report.html import render_html
from harness.report.terminal import render_summary
from harness.run.context import RunContext
from harness.run.outcomes import Outcomes
from harness.run.session import GateSession

STARTED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GATE_TOML = """
[gate]
checkpoints_dir = "{repo}/models"
[[baselines]]
name = "base-line"
model = "sentence-transformers/all-MiniLM-L6-v2"
[effect]
probe_path = "{repo}/fixtures/probe_sentences.txt"
[comparison]
n_resamples = 100
[targets]
roc_auc = 0.95
fp_rate = 0.20
[datasets.it_incidents]
role = "gate"
path = "{repo}/fixtures/it_incidents.jsonl"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"
[datasets.tickets]
role = "reference"
path = "{tickets}"
format = "jsonl"
calibration_split = "calibration"
test_split = "test"
"""


def ticket_rows(split: str, n: int, *, label: int | None = None) -> list[dict]:
    """`n` pairs of a split, labels alternating 1/0 (or all `label`), graded to match."""
    out = []
    for i in range(n):
        positive = i % 2 == 0 if label is None else bool(label)
        out.append({
            "sentence1": f"{split}: the vpn drops every {i + 2} minutes",
            "sentence2": f"{split}: vpn keeps disconnecting ({i})" if positive
            else f"{split}: printer {i} is out of paper",
            "score": 4.0 + i % 3 / 2 if positive else 0.5 + i % 3 / 2,
            "label": int(positive),
            "split": split,
        })  # fmt: skip
    return out


def session_over(folder: Path, tickets: list[dict], models: MadeUpModels) -> GateSession:
    """A GateSession gating the bundled IT fixture, with `tickets` written as a reference set,
    its models made up."""
    path = folder / "tickets.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in tickets), encoding="utf-8")
    toml = folder / "gate.toml"
    toml.write_text(GATE_TOML.format(repo=REPO.as_posix(), tickets=path.as_posix()))
    session = GateSession(load_config(toml), "cpu")
    session.device = "cpu"
    session.models = models  # type: ignore[assignment]
    return session


TICKETS = ticket_rows("calibration", 6) + ticket_rows("test", 8)
TICKET_TEXTS = {row[key] for row in TICKETS for key in ("sentence1", "sentence2")}
IT_TEXTS = {
    json.loads(line)[key]
    for line in (REPO / "fixtures" / "it_incidents.jsonl").read_text(encoding="utf-8").splitlines()
    for key in ("sentence1", "sentence2")
}


def reports(session: GateSession) -> tuple[dict, str, str]:
    """results.json, the summary (unwrapped) and report.html of what the session found."""
    environment = {"device": "cpu", "device_note": "cpu", "dtype": "float32", "versions": {}}
    context = RunContext(session.config, [], session.datasets, STARTED, environment=environment)
    results = build_results(context, session.findings, Outcomes(), finished=STARTED)
    summary = " ".join(render_summary(results).split())
    return results, summary, render_html(results, score_arrays(context, session.findings))


def test_a_reference_set_a_candidate_breaks_on_is_recorded_not_raised(tmp_path):
    models = MadeUpModels(
        [made_up_encoder("base")], {"cand": made_up_encoder("cand", breaks_on=TICKET_TEXTS)}
    )
    session = session_over(tmp_path, TICKETS, models)

    evaluations = session.evaluate_candidate(made_up_candidate("cand"))

    assert list(evaluations) == ["it_incidents"]  # the gating set as ever
    assert evaluations["it_incidents"].compared_with == "base-line"
    (error,) = session.findings.reference_errors["tickets"].values()
    assert list(session.findings.reference_errors) == ["tickets"]
    assert error == "ValueError: scores contains 8 non-finite values"
    assert session.findings.evaluation("base-line", "tickets") is not None  # the baseline's
    assert session.findings.evaluation("cand", "tickets") is None
    results, summary, page = reports(session)
    rows = {row["name"]: row for row in results["datasets"]}
    assert (rows["tickets"]["status"], rows["tickets"]["evaluation_errors"]) == (
        "failed",
        {"cand": error},
    )
    assert (rows["it_incidents"]["status"], rows["it_incidents"]["evaluation_errors"]) == ("ok", {})
    line = f"reference data set 'tickets' could not be evaluated for cand: {error}"
    assert line in summary
    section = page[page.index('<h2 id="ds-tickets">') :]
    assert f'<div class="alert">{html.escape(line)}</div>' in section[: section.index("<h2", 4)]


def test_a_gating_set_a_candidate_breaks_on_still_raises(tmp_path):
    """The control: only a reference set's errors are caught."""
    models = MadeUpModels(
        [made_up_encoder("base")], {"cand": made_up_encoder("cand", breaks_on=IT_TEXTS)}
    )
    session = session_over(tmp_path, TICKETS, models)

    with pytest.raises(ValueError, match="non-finite values"):
        session.evaluate_candidate(made_up_candidate("cand"))
    assert session.findings.reference_errors == {}


def test_a_baseline_that_breaks_on_a_reference_set_is_recorded_once_and_compares_nothing(
    tmp_path,
):
    baseline = made_up_encoder("base", breaks_on=TICKET_TEXTS)
    asked = []

    def counted(texts: list[str]):
        asked.extend(t for t in texts if t in TICKET_TEXTS)
        return baseline(texts)

    candidates = {name: made_up_encoder(name) for name in ("cand-a", "cand-b")}
    session = session_over(tmp_path, TICKETS, MadeUpModels([counted], candidates))

    first = session.evaluate_candidate(made_up_candidate("cand-a"))
    asked_once = len(asked)
    second = session.evaluate_candidate(made_up_candidate("cand-b"))

    assert list(first) == list(second) == ["it_incidents"]
    assert session.findings.reference_errors == {
        "tickets": {"base-line": "ValueError: scores contains 8 non-finite values"}
    }
    assert len(asked) == asked_once > 0  # not tried again for the second candidate
    assert {dataset for _, dataset in session.findings.evaluations} == {"it_incidents"}
    _, summary, page = reports(session)  # no model has numbers there, the set is still shown
    line = (
        "reference data set 'tickets' could not be evaluated for base-line: ValueError: scores "
        "contains 8 non-finite values"
    )
    assert line in summary
    assert '<h2 id="ds-tickets">tickets (reference, never fails)</h2>' in page
    assert f'<div class="alert">{html.escape(line)}</div>' in page


def test_a_reference_set_unfit_for_its_metrics_is_named_and_not_evaluated(tmp_path):
    one_class = ticket_rows("calibration", 4, label=1) + ticket_rows("test", 8)
    models = MadeUpModels([made_up_encoder("base")], {"cand": made_up_encoder("cand")})
    session = session_over(tmp_path, one_class, models)

    evaluations = session.evaluate_candidate(made_up_candidate("cand"))

    assert list(evaluations) == ["it_incidents"]
    assert isinstance(session.datasets["tickets"], DataError)
    results, summary, _ = reports(session)
    problem = (
        f"{tmp_path / 'tickets.jsonl'}: all 4 pairs of the calibration part (split "
        "'calibration') carry label 1: the threshold policy 'best_f1' cannot pick a threshold "
        "with one class"
    )
    assert results["missing_reference_datasets"]["tickets"].startswith(problem)
    assert results["complete"] is True  # a reference set never leaves the run incomplete
    assert f"reference data set 'tickets' was not evaluated: {problem}" in summary
