"""Case tables for `pytest.mark.parametrize`: one row a case, its first value a readable name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest


def cases(table: Iterable[Sequence[Any]]) -> list[Any]:
    """Each row as `pytest.param(*row, id=row[0])`: the case's name is its test id."""
    return [pytest.param(*row, id=row[0]) for row in table]
