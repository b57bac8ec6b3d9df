"""Runs beyond one process: pytest-xdist workers (one GPU each) and CI shards (--shard K/N).

Workers write partial report folders; the controller merges them into the one report a
serial run would have written (harness.runs.combine).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import pytest

from harness.report.folder import RESULTS

PARTIALS = "gate_partials_dir"
LOADGROUP = "gate_loadgroup"
UNGROUPED = "gate_ungrouped"
EMPTY_SHARD = "gate_empty_shard"
UNGROUPED_WARNING = (
    "WARNING: pytest-xdist did not keep each checkpoint's tests on one worker (it cannot mark "
    "test ids under pytest {pytest}), so workers loaded some checkpoints more than once; the "
    "verdicts are exact. Fix: install pytest==9.1.1 (requirements/constraints.txt)."
)


def parse_shard(value: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N, for --shard."""
    match = re.fullmatch(r"(\d+)/(\d+)", value.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(
            f"--shard '{value}' is not K/N with 1 <= K <= N (e.g. --shard 2/4)"
        )
    return int(match[1]), int(match[2])


def worker_id(config: pytest.Config) -> str | None:
    """The xdist worker's id ("gw0", ...), or None in the controller or a serial run."""
    return getattr(config, "workerinput", {}).get("workerid")


def is_controller(config: pytest.Config) -> bool:
    """True in the xdist process that distributes tests (it runs none itself)."""
    return worker_id(config) is None and bool(getattr(config.option, "numprocesses", None))


def follow_controller(config: pytest.Config) -> None:
    """On a worker: group test ids by checkpoint when the controller distributes by group."""
    if getattr(config, "workerinput", {}).get(LOADGROUP):
        config.option.loadgroup = True


def note_grouping(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker: tell the controller if xdist left the checkpoint groups out of the test ids
    (`id@group`, what --dist loadgroup schedules by); pytest 9.2 ignores xdist 3.8's renaming."""
    if worker_id(config) is None or not getattr(config.option, "loadgroup", False):
        return
    if any(item.get_closest_marker("xdist_group") and "@" not in item.nodeid for item in items):
        config.workeroutput[UNGROUPED] = True  # type: ignore[attr-defined]


def note_empty_shard(config: pytest.Config) -> None:
    """On a worker: tell the controller that the run's shard holds no checkpoint (the controller
    then writes the run's report, since no worker gates anything)."""
    if worker_id(config) is not None:
        config.workeroutput[EMPTY_SHARD] = True  # type: ignore[attr-defined]


def partials_dir(config: pytest.Config) -> Path:
    """Where this worker writes its partial report (set by the controller)."""
    return Path(config.workerinput[PARTIALS])  # type: ignore[attr-defined]


class XdistController:
    """Registered only when xdist is active: hands every worker the partial-reports folder."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.partials = Path(tempfile.mkdtemp(prefix="gate-workers-"))
        self.ungrouped = False  # a worker saw tests that xdist did not group by checkpoint
        self.empty_shard = False  # a worker found the run's shard empty

    def pytest_configure_node(self, node) -> None:
        node.workerinput[PARTIALS] = str(self.partials)
        # workers re-parse the command line, so they never see the dist set below: tell them
        node.workerinput[LOADGROUP] = self.config.option.dist == "loadgroup"

    def pytest_testnodedown(self, node, error) -> None:
        output = getattr(node, "workeroutput", {})
        self.ungrouped |= bool(output.get(UNGROUPED))
        self.empty_shard |= bool(output.get(EMPTY_SHARD))

    def grouping_warning(self) -> str | None:
        return UNGROUPED_WARNING.format(pytest=pytest.__version__) if self.ungrouped else None

    def worker_reports(self) -> list[Path]:
        """Each worker's results.json and scores.npz (no rendered report: the controller
        renders the combined run once)."""
        return sorted(p for p in self.partials.iterdir() if (p / RESULTS).is_file())


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Under `-n N`, group tests by checkpoint so each worker loads each checkpoint once."""
    if getattr(config.option, "numprocesses", None) and config.option.dist in ("no", "load"):
        config.option.dist = "loadgroup"
