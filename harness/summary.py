"""The terminal summary of a gate run: device, verdicts, not-applicable checks, fail-closed notes."""

from __future__ import annotations

import textwrap

import peft
import sentence_transformers
import torch
import transformers

from harness.session import GateSession

WIDTH = 100


def versions_line() -> str:
    return (
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"peft {peft.__version__}, sentence-transformers {sentence_transformers.__version__}"
    )


def render_summary(session: GateSession) -> str:
    """Plain text, at most 100 columns, no colour."""
    lines = [f"device: {session.device_note}   dtype: float32", f"versions: {versions_line()}"]
    for name, (verdict, first) in sorted(session.verdicts().items()):
        if first is None:
            lines.append(f"PROMOTE  {name}")
            continue
        reason = first.message.strip().splitlines()[0] if first.message.strip() else first.outcome
        lines.append(f"REJECT   {name}: {first.check} {first.outcome}")
        lines.extend(textwrap.wrap(reason, WIDTH, initial_indent="         ", subsequent_indent="         "))
    if session.not_applicable:
        lines.append("not applicable (not run, not counted as passed):")
        for check, checkpoint, why in session.not_applicable:
            lines.append(f"  {check}[{checkpoint}]: {why}")
    unsound = session.unsound()
    if unsound:
        lines.append(
            f"FAILED CLOSED: {len(unsound)} gate test(s) were skipped or errored; "
            "a gate that did not run a check cannot pass it"
        )
    return "\n".join(lines)
