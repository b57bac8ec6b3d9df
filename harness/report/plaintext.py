"""Plain text for a terminal: the width every text report keeps to, and line wrapping."""

from __future__ import annotations

import textwrap

WIDTH = 100


def wrap(
    text: str,
    indent: str = "",
    *,
    first: str = "",
    break_on_hyphens: bool = True,
    break_long_words: bool = True,
) -> list[str]:
    """`text` in lines of at most WIDTH columns: the first starts with `first`, the others with
    `indent`. An empty text is one empty line."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=indent,
        break_on_hyphens=break_on_hyphens,
        break_long_words=break_long_words,
    ) or [""]
