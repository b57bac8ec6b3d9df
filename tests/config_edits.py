"""Copies of the repository's gate.toml with one edit, and the ConfigError a config raises."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from paths import GATE_TOML

from harness.config import load_config
from harness.errors import ConfigError


def edited(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """A copy of the repository's gate.toml with one regex substitution (which must match)."""
    text, count = re.subn(pattern, replacement, GATE_TOML.read_text(encoding="utf-8"), flags=re.M)
    assert count, f"{pattern!r} matched nothing in gate.toml"
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """The message of the ConfigError that loading `path` raises: it names the file and a fix."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), "the message names the file"
    assert "\n  fix: " in message, "the message says how to fix it"
    return message
