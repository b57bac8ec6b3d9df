"""A finding whose test did not run is absent from results.json, and the report says so (it is
never computed behind the user's back)."""

from __future__ import annotations

from results_factory import build

from harness.report.html import render_html
from harness.report.terminal import render_summary


def test_a_deselected_finding_is_named_in_the_summary_and_the_report():
    results, arrays = build(candidates={"cand-a": 0.9})
    del arrays["probe_distance|cand-a"]  # test_adapter_changes_embeddings did not run
    assert results["checkpoints"][0].get("change_profile") is None

    summary = render_summary(results)
    page = render_html(results, arrays)

    assert (
        "change profile: not measured: test_adapter_updates_every_module did not run for it"
        in summary
    )
    assert "cand-a: no change profile (not measured: test_adapter_updates_every_module" in page
    assert "cand-a: no probe distances (not measured: test_adapter_changes_embeddings" in page


def test_a_full_model_has_nothing_to_measure_there():
    results, arrays = build(candidates={"full": 0.9})
    results["checkpoints"][0]["kind"] = "full_model"
    del arrays["probe_distance|full"]

    summary = render_summary(results)
    page = render_html(results, arrays)

    assert "not measured" not in summary and "not measured" not in page
    assert "full: no probe distances (full_model)" in page
