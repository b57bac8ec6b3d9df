"""A throw-away gate project for pytester: the real gate run in-process on checkpoints built for
a test, and what one run printed and wrote (outcomes, messages, summary, results.json)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from paths import DATASETS, GATE_TESTS, GATE_TOML, REPO

from harness.checkpoint.discover import ST_MODULES

GATE_TEST_FILE = GATE_TESTS / "test_adapter.py"
#: the copy's name in a gate project; not test_adapter.py, which the outer run may have
#: imported under that module name already (rootdir-relative "prepend" imports)
GATE_TEST_COPY = "test_adapter_battery.py"
PROBE_SENTENCES = REPO / "fixtures" / "probe_sentences.txt"
GATE_DATASET = "it_incidents"

PYTEST_INI = """\
[pytest]
addopts = --strict-markers
markers =
    gpu: the release gate itself
    benchmark: encode-throughput benchmarks
    slow: harness tests that load real models
filterwarnings =
    ignore:`is_gradient_checkpointing` is deprecated:FutureWarning
"""

#: a gate module of two tests: one runs, the other skips (as a check that needs a GPU would)
SKIPPING_GATE_TEST = """\
import pytest

pytestmark = pytest.mark.gpu


def test_runs(candidate):
    assert candidate.checkpoint.name == {checkpoint!r}


def test_cannot_check_here(candidate):
    pytest.skip("this check needs a GPU")
"""

#: the ids of test_merged_equals_unmerged_low_precision's dtype parameter
DTYPE_CASES = ("bfloat16", "float16")
SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR) \S+::(test_\w+)\[([^\]]+)\]", re.MULTILINE)


def gate_toml(cache_dir: Path) -> str:
    """The repository's gate.toml, [datasets] trimmed to the bundled fixture (absolute path),
    the embedding cache moved to `cache_dir`, {datasets} made the shared data sets' folder."""
    text = GATE_TOML.read_text(encoding="utf-8")
    dataset = tomllib.loads(text)["datasets"][GATE_DATASET]
    kept, in_datasets = [], False
    for line in text.splitlines():
        if re.match(r"^\s*\[", line):
            in_datasets = bool(re.match(r"^\s*\[\s*datasets[.\]]", line))
        if not in_datasets:
            kept.append(line)
    body = re.sub(
        r'(?m)^cache_dir = "[^"]*"', f'cache_dir = "{cache_dir.as_posix()}"', "\n".join(kept)
    ).replace("{datasets}", DATASETS.as_posix())  # [leakage] relative_to, from anywhere
    table = [f"[datasets.{GATE_DATASET}]"]
    for key, value in dataset.items():
        if key == "path":
            value = (REPO / value).as_posix()
        table.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
    return body + "\n\n" + "\n".join(table) + "\n"


@dataclass
class GateRun:
    """One in-process gate run: exit code, output, and per-test outcomes and messages."""

    result: pytest.RunResult

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def text(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    def outcomes(self, checkpoint: str) -> dict[str, str]:
        """PASSED / FAILED / ERROR per gate test of one checkpoint, from the short summary; a
        test also parametrized by a dtype (id `<checkpoint>-bfloat16`) is `test[bfloat16]`."""
        found = {}
        for outcome, test, name in SUMMARY_LINE.findall(self.result.stdout.str()):
            case = name.removeprefix(f"{checkpoint}-")
            if name == checkpoint:
                found[test] = outcome
            elif case != name and case in DTYPE_CASES:
                found[f"{test}[{case}]"] = outcome
        return found

    def section(self, test: str, checkpoint: str) -> str:
        """What pytest printed under one failed or errored test's header (its message)."""
        lines = self.result.stdout.lines
        header = re.compile(
            rf"^_+ (ERROR at setup of )?{re.escape(test)}\[{re.escape(checkpoint)}\] _+$"
        )
        for start, line in enumerate(lines):
            if header.match(line):
                end = next(
                    (
                        i
                        for i in range(start + 1, len(lines))
                        if re.match(r"^(_{3,} |={3,} )", lines[i])
                    ),
                    len(lines),
                )
                return "\n".join(lines[start + 1 : end])
        raise AssertionError(f"no section for {test}[{checkpoint}] in:\n{self.text}")

    def summary(self) -> str:
        """The plugin's "release gate" block of the terminal summary."""
        text = self.result.stdout.str()
        start = text.find(" release gate ")
        assert start >= 0, f"no release gate summary in:\n{self.text}"
        end = text.find("short test summary info", start)
        return text[start : end if end >= 0 else None]


@dataclass
class GateProject:
    """A throw-away project that runs the real gate in-process on checkpoints built for a test."""

    pytester: pytest.Pytester

    @classmethod
    def create(cls, pytester: pytest.Pytester, cache_dir: Path) -> GateProject:
        """pytest.ini, a conftest loading the plugin, a copy of the real test_adapter.py, the
        probe sentences and a small gate.toml (baseline embeddings cached in `cache_dir`)."""
        pytester.makefile(".ini", pytest=PYTEST_INI)
        pytester.makeconftest('pytest_plugins = ["harness.pytest_plugin"]\n')
        shutil.copyfile(GATE_TEST_FILE, pytester.path / GATE_TEST_COPY)
        (pytester.path / "fixtures").mkdir()
        shutil.copyfile(PROBE_SENTENCES, pytester.path / "fixtures" / PROBE_SENTENCES.name)
        (pytester.path / "models").mkdir()
        (pytester.path / "gate.toml").write_text(gate_toml(cache_dir), encoding="utf-8")
        return cls(pytester)

    @property
    def path(self) -> Path:
        return self.pytester.path

    def include(self, gate_test_file: str) -> None:
        """Copy another real gate test module (e.g. "test_quality.py") into the project."""
        source = GATE_TESTS / gate_test_file
        shutil.copyfile(source, self.path / gate_test_file.replace(".py", "_battery.py"))

    def include_battery(self) -> None:
        """Copy the rest of the real battery (behaviour, quality, analyses, leakage) and make the
        throughput checks optional (`[throughput] required = false`): a run of the project is
        complete without its benchmarks, so its checkpoints can PROMOTE."""
        self.include("test_behaviour.py")
        self.include("test_quality.py")
        self.include("test_analyses.py")
        self.include("test_leakage.py")
        self.set_config("[throughput]\n", "[throughput]\nrequired = false\n")

    def add_skipping_gate_test(self, checkpoint: str) -> str:
        """A gate module (SKIPPING_GATE_TEST) whose running test expects `checkpoint`; returns
        its file name, to pass as the run's test path."""
        name = "test_skipping_gate.py"
        text = SKIPPING_GATE_TEST.format(checkpoint=checkpoint)
        (self.path / name).write_text(text, encoding="utf-8")
        return name

    def set_config(self, old: str, new: str) -> None:
        """Edit the project's gate.toml: replace one exact piece of text."""
        path = self.path / "gate.toml"
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in gate.toml"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def replace_datasets(self, tables: str) -> None:
        """Replace the project's [datasets.*] tables (they end gate.toml) with `tables`."""
        path = self.path / "gate.toml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text[: text.index("[datasets.")] + tables, encoding="utf-8")

    def relax_targets(self) -> None:
        """Targets anything meets, and `beats_baseline` as a non-inferiority check with a margin
        of 0.1: the example adapter is worse than MiniLM on the IT fixture by 0.021 (95%
        interval 0.002 to 0.041, README), so it passes as not worse by more than 0.1, while a
        candidate worse than that, or never applied, still fails. The slice gate is switched
        off: the example is significantly worse than MiniLM on one slice (outage, Spearman).
        Runs that test plumbing (workers, shards, promotion, run diffs) can then reach PROMOTE;
        a real improvement against min_delta = 0 is shown on STS-B
        (tests/integration/test_quality_gate.py), the slice gate in test_analyses_gate.py."""
        for old, new in (
            ("[slices]\ngate = true", "[slices]\ngate = false"),
            ("spearman = 0.8", "spearman = -1.0"),
            ("roc_auc = 0.95", "roc_auc = 0.0"),
            ("fp_rate = 0.2", "fp_rate = 1.0"),
            ("min_delta = 0.0", "min_delta = -0.1"),
        ):
            self.set_config(old, new)

    def fewer_resamples(self) -> None:
        """200 bootstrap resamples instead of 1000: wider intervals, a faster run."""
        self.set_config("n_resamples = 1000", "n_resamples = 200")

    def checkpoint_path(self, name: str) -> Path:
        """Where to build a checkpoint: below the project's checkpoints_dir ("models")."""
        return self.path / "models" / name

    def stub_checkpoint(self, name: str = "stub") -> Path:
        """A folder that reads as a full model, for runs that never load it."""
        folder = self.checkpoint_path(name)
        folder.mkdir(parents=True)
        (folder / ST_MODULES).write_text("[]", encoding="utf-8")
        return folder

    def results(self, report_dir: Path | None = None) -> dict:
        """The latest run's results.json (in `report_dir`, default the project's reports/)."""
        folder = report_dir or self.path / "reports"
        return json.loads((folder / "latest" / "results.json").read_text(encoding="utf-8"))

    def run(self, *checkpoints: Path, args: Iterable[str] = ()) -> GateRun:
        """`pytest -m gpu --checkpoint=...` in the project, passed tests listed in the summary."""
        return GateRun(
            self.pytester.runpytest_inprocess(
                "-m",
                "gpu",
                "-p",
                "no:cacheprovider",
                "-rfEsp",
                *(f"--checkpoint={c}" for c in checkpoints),
                *args,
            )
        )
