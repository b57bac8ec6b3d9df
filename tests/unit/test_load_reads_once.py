"""load_candidate reads an adapter's file once and resolves its base once: every preflight check,
the load report and the diagnoses use that one read.

No model is loaded: the base is a one-layer module and PEFT's own load (which reads the file
itself) is replaced by the PEFT model the test saved the adapter from.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

import harness.checkpoint.discover as discover
import harness.checkpoint.load as load
from harness.checkpoint.diagnose import explain_no_effect
from harness.checkpoint.discover import read_checkpoint
from harness.errors import CheckpointError

LORA = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["query"]}


class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = torch.nn.Linear(4, 4)


class Transformer(torch.nn.Module):
    """Stands for sentence-transformers' first module, which holds the transformer as `.model`."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Encoder()


_watched: list[tuple[str, list[str]]] = []  # (path, the opens seen) while a count is running


def _count_python_opens(event: str, args: tuple) -> None:
    if event == "open" and _watched and isinstance(args[0], str | bytes | os.PathLike):
        path, seen = _watched[-1]
        if os.path.abspath(os.fsdecode(args[0])) == path:
            seen.append("open")


sys.addaudithook(_count_python_opens)  # audit hooks stay for the process; idle when unwatched


@contextmanager
def opens_of(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every opening of `path` while the block runs: by Python (open(), Path.read_bytes,
    os.open: the `open` audit event) or by safetensors (safe_open, which load_file uses too)."""
    watched = os.path.abspath(path)
    seen: list[str] = []
    real_safe_open = safetensors.safe_open

    def counting_safe_open(filename, *args, **kwargs):
        if os.path.abspath(os.fspath(filename)) == watched:
            seen.append("safe_open")
        return real_safe_open(filename, *args, **kwargs)

    monkeypatch.setattr(safetensors, "safe_open", counting_safe_open)
    monkeypatch.setattr(safetensors.torch, "safe_open", counting_safe_open)
    _watched.append((watched, seen))
    try:
        yield seen
    finally:
        _watched.pop()


@pytest.fixture
def adapter_on_a_tiny_base(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """An adapter folder and its base folder; loading the base and PEFT's load are faked."""
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"hidden_size": 4, "num_hidden_layers": 1}))
    save_file({"query.weight": torch.zeros(4, 4), "query.bias": torch.zeros(4)},
              str(base / "model.safetensors"))
    shipped = Transformer()
    peft_model = get_peft_model(shipped.model, LoraConfig(r=2, lora_alpha=4,
                                                          target_modules=["query"]))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({**LORA, "base_model_name_or_path": str(base)})
    )
    save_file(get_peft_model_state_dict(peft_model), str(adapter / "adapter_model.safetensors"))

    monkeypatch.setattr(
        load, "load_sentence_transformer", lambda path, device: torch.nn.Sequential(Transformer())
    )
    monkeypatch.setattr(PeftModel, "from_pretrained", staticmethod(lambda *a, **k: peft_model))
    return adapter, base


def test_the_adapter_file_is_read_once_for_every_check_the_report_and_the_diagnoses(
    adapter_on_a_tiny_base, monkeypatch
):
    adapter, base = adapter_on_a_tiny_base
    checkpoint = read_checkpoint(adapter)

    with opens_of(checkpoint.adapter_file, monkeypatch) as opens:
        candidate = load.load_candidate(checkpoint, {}, "cpu", bases={"acme/base": base})
        findings = explain_no_effect(LORA, candidate.load_report, candidate.peft_model)

    assert candidate.load_report is not None and candidate.load_report.exact
    assert any("lora_B matrices in the file are all zeros" in f for f in findings)
    assert opens == ["open"]  # once (by Python), hashed as read: then parsed from those bytes


def test_the_base_is_resolved_once(adapter_on_a_tiny_base, monkeypatch):
    """The base named by its folder (what save_pretrained writes) and checked against the
    configured bases: one resolution serves the check and the load."""
    adapter, base = adapter_on_a_tiny_base
    resolutions = []
    builtin_aliases = discover.builtin_aliases  # resolve_base consults it once per resolution
    monkeypatch.setattr(
        discover, "builtin_aliases", lambda: resolutions.append(1) or builtin_aliases()
    )

    candidate = load.load_candidate(read_checkpoint(adapter), {}, "cpu", bases={"acme/base": base})

    assert candidate.base_path == base
    assert len(resolutions) == 1


@pytest.mark.parametrize("changed", ["adapter_model.safetensors", "adapter_config.json"])
def test_a_file_changed_after_discovery_is_never_loaded(adapter_on_a_tiny_base, changed):
    """Swapped between discovery (where it was fingerprinted) and the load: refused, naming it,
    so the model gated is the model the run's fingerprint names."""
    adapter, base = adapter_on_a_tiny_base
    checkpoint = read_checkpoint(adapter)
    file = adapter / changed
    file.write_bytes(file.read_bytes() + b" ")

    with pytest.raises(CheckpointError) as refused:
        load.load_candidate(checkpoint, {}, "cpu", bases={"acme/base": base})

    assert str(refused.value).startswith(f"{file}: changed while the gate ran")
