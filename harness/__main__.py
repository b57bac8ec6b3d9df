"""`python -m harness`: command-line tools around gate runs (the gate itself runs under pytest).

    python -m harness compare OLD NEW   what changed between two runs (exit 1 on a regression)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The `harness` command and its subcommands (one parser each, added here)."""
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="Tools for the embedding release gate's reports. The gate itself runs as "
        "`pytest -m gpu`.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    compare = commands.add_parser(
        "compare",
        help="what changed between two runs (exit 0 ok, 1 regression, 2 unreadable input)",
        description="Compare two gate runs: metrics that moved beyond their bootstrap intervals "
        "(direction-aware), flipped verdicts (PROMOTE -> REJECT is a regression), new and "
        "vanished checkpoints, changed data sets. Exit 0 when nothing regressed, 1 on a "
        "regression, 2 when an input cannot be read.",
    )
    compare.add_argument("old", metavar="OLD", help="earlier run: results.json or report folder")
    compare.add_argument("new", metavar="NEW", help="later run: results.json or report folder")
    compare.set_defaults(handler=_compare)
    return parser


def _compare(args: argparse.Namespace) -> int:
    from harness.compare_runs import main

    return main(args.old, args.new)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
