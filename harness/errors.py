"""Errors for bad input: each names the file, the problem and the fix."""

from __future__ import annotations

from pathlib import Path


class GateInputError(Exception):
    """Input the gate refuses. The message names the file, what is wrong and how to fix it."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        fix: str,
        *,
        line: int | None = None,
        at: str | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        self.line = line
        #: where in a file without lines the problem is, e.g. "item 12" or "row 3"
        self.at = at
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        if self.at is not None:
            where = f"{where}: {self.at}"
        return f"{where}: {self.problem}\n  fix: {self.fix}"


class ConfigError(GateInputError):
    """gate.toml or a command-line option is invalid."""


class CheckpointError(GateInputError):
    """A checkpoint cannot be gated as it is (unreadable, mismatched, unresolvable base)."""


class DataError(GateInputError):
    """A pair data set cannot be read or is unfit for the metrics asked of it."""
