"""A run's report folder: results.json, leaderboard.md, report.html, scores.npz; and `latest`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.report.html import render_html
from harness.report.leaderboard import render_markdown

RESULTS = "results.json"
LEADERBOARD = "leaderboard.md"
HTML = "report.html"
ARRAYS = "scores.npz"


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
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=report_dir))
    try:
        document = json.dumps(results, indent=2, sort_keys=False) + "\n"
        (staging / RESULTS).write_text(document, encoding="utf-8")
        (staging / LEADERBOARD).write_text(render_markdown(results), encoding="utf-8")
        np.savez_compressed(staging / ARRAYS, **arrays)  # type: ignore[arg-type]
        (staging / HTML).write_text(render_html(results, arrays), encoding="utf-8")
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_latest(report_dir, final)
    return final


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
