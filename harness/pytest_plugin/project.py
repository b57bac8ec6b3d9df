"""Where the gate's project is: the folder of gate.toml, found from where pytest was invoked,
never from the rootdir pytest guessed.

pytest picks its rootdir and ini file from the command line's existing paths before any plugin
is loaded, so an option value given in the space form (`--checkpoint /mnt/ckpts/run_0444`,
`--report-dir /var/lib/gate/reports` once that folder exists) reads to it as a test path, and
it settles on a rootdir outside the project with no ini file. The plugin, loaded through its
`pytest11` entry point, still registers its options, finds gate.toml from the invocation
folder upward, registers the gate's markers and, when no test path was given, collects the
project's `tests/gate`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

GATE_TOML = "gate.toml"
GATE_TESTS = Path("tests") / "gate"
#: the markers the gate's tests carry (also in the project's pytest.ini, which pytest may miss)
MARKERS = (
    "gpu: the release gate itself (runs on the CPU too; `--device` picks the device)",
    "benchmark: encode-throughput benchmarks (pytest-benchmark)",
)


def gate_config_path(config: pytest.Config) -> Path:
    """--gate-config, else gate.toml in the first folder holding one from where pytest was
    invoked upward, else gate.toml in the rootdir (whose absence is reported when read)."""
    if config.option.gate_config:
        return Path(config.option.gate_config)
    project = find_project(Path(config.invocation_params.dir))
    return (project or Path(config.rootpath)) / GATE_TOML


def find_project(start: Path) -> Path | None:
    """The first folder from `start` upward that holds gate.toml."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / GATE_TOML).is_file():
            return folder
    return None


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    project = find_project(Path(config.invocation_params.dir))
    if project is None or _found_the_project(config, project):
        return
    no_test_paths = config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR
    if no_test_paths and (project / GATE_TESTS).is_dir():
        config.args = [str(project / GATE_TESTS)]  # the gate's tests, as the project runs them


def _found_the_project(config: pytest.Config, project: Path) -> bool:
    """pytest settled on the project's own ini file (its testpaths and addopts apply)."""
    return config.inipath is not None and config.inipath.parent == project
