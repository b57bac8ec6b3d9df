"""Reading gate.toml's tables: typed lookups, ranges, paths, and every unknown key an error."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


class Table:
    """One TOML table being read: typed lookups, and every unknown key is an error."""

    def __init__(self, source: Path, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(source, f"[{name}] must be a table", f"write it as [{name}]")
        self.source, self.name, self.data = source, name, data
        self.used: set[str] = set()

    def get(self, key: str, kinds: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise ConfigError(
                    self.source,
                    f"[{self.name}] is missing the required key '{key}'",
                    f"add {key} = ... to [{self.name}]",
                )
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in _as_tuple(kinds):
            value = str(value)  # a bool is an int to Python; never accept it as a number
        if not isinstance(value, kinds):
            wanted = " or ".join(k.__name__ for k in _as_tuple(kinds))
            raise ConfigError(
                self.source,
                f"[{self.name}] {key} = {value!r} must be a {wanted}",
                f"give {key} a {wanted} value",
            )
        return value

    def number(
        self, key: str, default: Any = ..., *, low: float | None = None, high: float | None = None
    ) -> Any:  # float, or the default (which may be None)
        value = self.get(key, (int, float), default)
        if value is None:
            return value
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(
                self.source,
                f"[{self.name}] {key} = {value} is outside its range [{low}, {high}]",
                f"set {key} to a value between {low} and {high}",
            )
        return float(value)

    def finish(self) -> None:
        """Refuse keys nobody read: a typo must not be ignored."""
        for key in self.data:
            if key not in self.used:
                close = difflib.get_close_matches(key, sorted(self.used), n=1)
                hint = (
                    f"did you mean '{close[0]}'?" if close else f"known keys: {sorted(self.used)}"
                )
                raise ConfigError(
                    self.source,
                    f"unknown key '{key}' in [{self.name}]",
                    f"{hint} Remove or rename it.",
                )


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def datasets_root(config_dir: Path) -> Path:
    """Where "{datasets}" points: $GATE_DATASETS, else the first shared/datasets beside the
    config's folder or one of its parents (../shared/datasets beside the project, for the
    project's gate.toml and for one in examples/ alike)."""
    env = os.environ.get("GATE_DATASETS")
    if env:
        return Path(env)
    folder = config_dir.resolve()
    for parent in (folder, *folder.parents):
        if (parent.parent / "shared" / "datasets").is_dir():
            return parent.parent / "shared" / "datasets"
    return config_dir.parent / "shared" / "datasets"


def config_path(config_dir: Path, raw: str) -> Path:
    expanded = raw.replace("{datasets}", str(datasets_root(config_dir)))
    path = Path(expanded).expanduser()
    return path if path.is_absolute() else (config_dir / path)


