"""The report folder: a run writes all four files and `latest`; an xdist worker writes only its
data (results.json and scores.npz), which the controller combines and renders once."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from results_factory import build

from harness.report.folder import read_report, write_data, write_report

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_run_writes_the_whole_report_and_points_latest_at_it(tmp_path):
    results, arrays = build()
    folder = write_report(results, arrays, tmp_path, when=WHEN)
    assert sorted(p.name for p in folder.iterdir()) == [
        "leaderboard.md", "report.html", "results.json", "scores.npz"
    ]
    assert (tmp_path / "latest").resolve() == folder.resolve()


def test_a_worker_writes_its_data_only(tmp_path):
    results, arrays = build()
    folder = write_data(results, arrays, tmp_path / "partials" / "gw0")
    assert sorted(p.name for p in folder.iterdir()) == ["results.json", "scores.npz"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["gw0"]  # no staging left behind
    _, again, scores = read_report(folder)
    assert again == results
    assert scores.keys() == arrays.keys()
    assert all(np.array_equal(scores[k], arrays[k]) for k in arrays)
