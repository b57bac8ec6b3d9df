"""`python -m harness`: command-line tools around gate runs (the gate itself runs under pytest).

    python -m harness compare OLD NEW            what changed between two runs (1: a regression)
    python -m harness combine --out DIR RUN...   one report from the report folders of N shards
    python -m harness convert CKPT...            adapter_model.bin -> adapter_model.safetensors

`merge` is the deprecated name of `combine`: it says so on stderr, then does the same.
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
    description = (
        "Combine the report folders of N shards (`pytest -m gpu --shard K/N`) into one "
        "results.json, leaderboard, verdicts and report.html, as one run over all checkpoints "
        "would have written them. Refuses shards that disagree on configuration, data "
        "fingerprints, baselines or the checkpoints discovered, and a shard missing or given "
        "twice (every K of N must be there, an empty shard's report too)."
    )
    for name, help_text, handler in (
        (
            "combine",
            "combine the report folders of several shards into one report "
            "(exit 0 all promoted, 1 otherwise, 2 unreadable, disagreeing or missing shards)",
            _combine,
        ),
        ("merge", "deprecated name of `combine`", _merge),
    ):
        command = commands.add_parser(name, help=help_text, description=description)
        command.add_argument("runs", nargs="+", metavar="RUN", help="a shard's report folder")
        command.add_argument(
            "--out", required=True, metavar="DIR", help="report directory to write"
        )
        command.set_defaults(handler=handler)
    convert = commands.add_parser(
        "convert",
        help="write adapter_model.safetensors from a clean adapter_model.bin (exit 0 converted, "
        "2 refused)",
        description="Convert pickled adapter weights (adapter_model.bin) to safetensors, once: "
        "the pickle is scanned without running it (any global beyond tensor rebuilding refuses "
        "it), loaded with torch.load(weights_only=True), written, and every tensor compared "
        "after writing; the pickle is kept beside it as adapter_model.bin.converted.",
    )
    convert.add_argument("checkpoints", nargs="+", metavar="CKPT", help="an adapter folder")
    convert.set_defaults(handler=_convert)
    return parser


def _convert(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.checkpoint.weights_files import convert_to_safetensors
    from harness.errors import GateInputError

    status = 0
    for folder in args.checkpoints:
        try:
            print(f"wrote {convert_to_safetensors(Path(folder))}")
        except GateInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
    return status


def _merge(args: argparse.Namespace) -> int:
    print(
        "`python -m harness merge` is deprecated: use `python -m harness combine`", file=sys.stderr
    )
    return _combine(args)


def _combine(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from pathlib import Path

    from harness.errors import GateInputError
    from harness.report.folder import write_report
    from harness.report.terminal import render_summary
    from harness.run.verdicts import PROMOTE
    from harness.runs.combine import combine_runs

    try:
        results, arrays = combine_runs(args.runs)
    except GateInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = write_report(results, arrays, Path(args.out), when=datetime.now(UTC))
    print(render_summary(results, str(folder)))
    promoted = all(c["verdict"] == PROMOTE for c in results["checkpoints"])
    return 0 if promoted and results.get("complete", True) and results["checkpoints"] else 1


def _compare(args: argparse.Namespace) -> int:
    from harness.runs.diff import main

    return main(args.old, args.new)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)

