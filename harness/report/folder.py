"""A run's report folder: results.json, leaderboard.md, report.html, scores.npz; and `latest`.
Written here, and read back here (by the run diff and by combining runs)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import GateInputError
from harness.report.html import render_html
from harness.report.leaderboard import render_markdown

RESULTS = "results.json"
LEADERBOARD = "leaderboard.md"
HTML = "report.html"
ARRAYS = "scores.npz"
#: the lists every results.json has, and the keys each of their rows needs
REQUIRED = {
    "checkpoints": ("name", "verdict"),
    "evaluations": ("model", "dataset", "metrics"),
    "datasets": ("name",),
}


def write_report(
    results: dict[str, Any], arrays: dict[str, np.ndarray], report_dir: Path, *, when: datetime
) -> Path:
    """Write the folder atomically (a temp folder renamed into place); point `latest` at it."""
    report_dir.mkdir(parents=True, exist_ok=True)
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = report_dir / stamp
    suffix = 1
    while final.exists():
        suffix += 1
        final = report_dir / f"{stamp}-{suffix}"
    _write_atomically(final, results, arrays, rendered=True)
    _point_latest(report_dir, final)
    return final


def write_data(results: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path) -> Path:
    """Only results.json and scores.npz, atomically into the new `folder`: an xdist worker's
    share, which the controller combines and renders once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder, results, arrays, rendered=False)
    return folder


def _write_atomically(
    final: Path, results: dict[str, Any], arrays: dict[str, np.ndarray], *, rendered: bool
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=final.parent))
    try:
        document = json.dumps(results, indent=2, sort_keys=False) + "\n"
        (staging / RESULTS).write_text(document, encoding="utf-8")
        np.savez_compressed(staging / ARRAYS, **arrays)  # type: ignore[arg-type]
        if rendered:
            (staging / LEADERBOARD).write_text(render_markdown(results), encoding="utf-8")
            (staging / HTML).write_text(render_html(results, arrays), encoding="utf-8")
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _point_latest(report_dir: Path, target: Path) -> None:
    """`latest` -> the newest run, swapped atomically (a symlink where the OS allows one)."""
    link = report_dir / "latest"
    tmp = report_dir / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink() if tmp.is_symlink() else shutil.rmtree(tmp)
    try:
        tmp.symlink_to(target.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            shutil.rmtree(link)
        shutil.copytree(target, link)


def read_results(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """A run's results.json, given the file or its report folder; GateInputError if unusable."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
        if not path.is_file():
            raise GateInputError(path.parent, f"this folder has no {RESULTS}",
                                 "pass a report folder (e.g. reports/latest) or a results.json")
    if not path.is_file():
        raise GateInputError(path, "no such file or folder",
                             "pass a report folder (e.g. reports/latest) or its results.json")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise GateInputError(path, f"not valid JSON: {exc.msg} (column {exc.colno})",
                             "pass the results.json a gate run wrote, unedited",
                             line=exc.lineno) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GateInputError(path, f"cannot be read: {exc}",
                             "check the path and its permissions") from exc
    problem = _shape_problem(document)
    if problem:
        raise GateInputError(path, f"not a gate results.json: {problem}",
                             "pass the results.json a gate run wrote (in its report folder)")
    return path, document


def _shape_problem(document: Any) -> str | None:
    """What keeps `document` from being read as a results.json, or None."""
    if not isinstance(document, dict):
        return f"the top level is a {type(document).__name__}, not an object"
    missing = [key for key in REQUIRED if not isinstance(document.get(key), list)]
    if missing:
        return f"no list {', '.join(repr(k) for k in missing)}"
    for key, needs in REQUIRED.items():
        for index, row in enumerate(document[key]):
            if not isinstance(row, dict) or any(n not in row for n in needs):
                return f"{key}[{index}] lacks {', '.join(needs)}"
            if key == "evaluations" and not all(
                isinstance(m, dict) for m in row["metrics"].values()
            ):
                return f"{key}[{index}].metrics is not a table of metrics"
    return None


def read_report(path: str | Path) -> tuple[Path, dict[str, Any], dict[str, np.ndarray]]:
    """A report folder (or its results.json): the folder, its results and its scores.npz."""
    results_file, results = read_results(path)
    folder = results_file.parent
    try:
        with np.load(folder / ARRAYS) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise GateInputError(
            folder / ARRAYS,
            f"cannot be read ({exc})",
            "pass report folders of `pytest -m gpu` runs (each holds results.json and scores.npz)",
        ) from exc
    return folder, results, arrays
