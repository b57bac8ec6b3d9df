"""A checkpoint is gated as it ships: an adapter saved by sentence-transformers is served in its
folder's own pipeline (pooling, max_seq_length in either layout, Dense, Normalize), the base's
weights plus the adapter through PEFT, exactly as `SentenceTransformer(folder)` serves it.

The reference is sentence-transformers loading the folder itself (the base named by its local
path), after checking that it loaded every adapter tensor exactly: for these plain LoRA
adapters its own adapter loading is correct, so it is the base's weights, the adapter applied
the correct way and the folder's modules. One real gate run checks scores.npz against it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import (
    DENSE_FEATURES,
    copy_checkpoint,
    load_base,
    make_peft_adapter,
    make_pipeline_adapter,
)
from safetensors.torch import load_file

from harness.checkpoint.discover import ADAPTER_WEIGHTS, read_checkpoint
from harness.checkpoint.load import describe_pipeline, load_candidate, load_sentence_transformer
from harness.checkpoint.preflight import PEFT_PREFIX
from harness.checkpoint.tolerances import merge_atol
from harness.config import load_config
from harness.quality.evaluate import load_dataset
from harness.runs.promotion import stage

pytestmark = pytest.mark.slow

TOL = 1e-6
#: long enough that a max_seq_length of 24 truncates it, and short ones it does not
TEXTS = [
    "the VPN client disconnects every few minutes when I work from home over the hotel wifi, "
    "and reconnecting takes a long time, so calls with the customer keep dropping all day",
    "printer on floor 3 is out of toner",
    "password reset link expired before I could use it",
    "DNS lookups failing, some sites won't resolve, but pinging the servers by IP address works "
    "fine from every laptop in the office and from the build machines in the basement too",
]

PIPELINES: dict[str, tuple[Callable[[Path], Path], dict[str, Any]]] = {
    # name: (builder, settings its pipeline must show)
    "cls-24": (
        lambda p: make_pipeline_adapter(p, pooling="cls", max_seq_length=24),
        {"pooling": "cls", "max_seq_length": 24, "embedding_dimension": 384},
    ),
    "cls-24-legacy-layout": (
        lambda p: make_pipeline_adapter(
            p, pooling="cls", max_seq_length=24, legacy_max_seq_length=True
        ),
        {"pooling": "cls", "max_seq_length": 24, "embedding_dimension": 384},
    ),
    "dense-head": (
        lambda p: make_pipeline_adapter(p, dense=True),
        {
            "modules": ["Transformer", "Pooling", "Dense", "Normalize"],
            "pooling": "mean",
            "max_seq_length": 256,
            "embedding_dimension": DENSE_FEATURES,
        },
    ),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    return {name: build(root / name) for name, (build, _) in PIPELINES.items()}


def reference(folder: Path) -> Any:
    """sentence-transformers loading the folder, with every adapter tensor checked as loaded."""
    from peft.utils import get_peft_model_state_dict

    model = load_sentence_transformer(folder, "cpu")
    loaded = get_peft_model_state_dict(model[0].model)
    saved = load_file(str(folder / ADAPTER_WEIGHTS))
    assert sorted(loaded) == sorted(k.removeprefix(PEFT_PREFIX) for k in saved)
    for key, tensor in saved.items():
        assert tensor.equal(loaded[key.removeprefix(PEFT_PREFIX)])
    return model


def encode(model: Any, texts: list[str] = TEXTS) -> np.ndarray:
    return model.encode(texts, convert_to_numpy=True, show_progress_bar=False)


@pytest.mark.parametrize("name", list(PIPELINES))
def test_candidate_is_served_in_its_checkpoint_pipeline(folders, name):
    candidate = load_candidate(read_checkpoint(folders[name]), {}, "cpu")
    assert candidate.pipeline_from == "checkpoint"
    assert candidate.load_report is not None and candidate.load_report.exact
    pipeline = describe_pipeline(candidate.model)
    for key, value in PIPELINES[name][1].items():
        assert pipeline[key] == value, key
    expected = reference(folders[name])
    assert describe_pipeline(expected) == pipeline
    np.testing.assert_allclose(encode(candidate.model), encode(expected), rtol=0, atol=TOL)


def test_adapter_disabled_is_the_base_in_the_checkpoint_pipeline(folders):
    candidate = load_candidate(read_checkpoint(folders["cls-24"]), {}, "cpu")
    base_in_pipeline = candidate.load_base_in_pipeline("cpu")
    assert describe_pipeline(base_in_pipeline) == describe_pipeline(candidate.model)
    with candidate.adapter_disabled() as disabled:
        np.testing.assert_array_equal(encode(disabled), encode(base_in_pipeline))


def test_promotion_saves_the_checkpoint_pipeline(folders, tmp_path):
    candidate = load_candidate(read_checkpoint(folders["dense-head"]), {}, "cpu")
    staged = load_sentence_transformer(stage(candidate, tmp_path), "cpu")
    assert describe_pipeline(staged) == describe_pipeline(candidate.model)
    atol = merge_atol(candidate.dtype)
    np.testing.assert_allclose(encode(staged), encode(candidate.model), rtol=0, atol=atol)


def test_plain_peft_adapter_is_served_in_its_base_pipeline(tmp_path):
    candidate = load_candidate(read_checkpoint(make_peft_adapter(tmp_path / "peft")), {}, "cpu")
    assert candidate.pipeline_from == "base"
    assert describe_pipeline(candidate.model) == describe_pipeline(load_base())


# ---- through the real gate ------------------------------------------------------------------


@pytest.fixture
def gate_run(request, once_per_module, folders):
    """The CLS, max_seq_length-24 checkpoint and a plain-PEFT adapter gated in one run."""

    def run() -> tuple[Any, Any]:
        project = request.getfixturevalue("gate_project")
        project.include("test_quality.py")  # the quality battery writes the scores
        shipped = copy_checkpoint(folders["cls-24"], project.checkpoint_path("cls-24"))
        peft = make_peft_adapter(project.checkpoint_path("peft"))
        return project, project.run(shipped, peft)

    return once_per_module("gate", run)


def test_gate_scores_are_those_of_the_folder(gate_run, folders):
    from sentence_transformers.util import pairwise_cos_sim

    project, _ = gate_run
    config = load_config(project.path / "gate.toml")
    (spec,) = config.datasets
    pairs = load_dataset(spec, config.threshold).test
    model = reference(folders["cls-24"])
    expected = pairwise_cos_sim(
        model.encode(list(pairs.sentence1), convert_to_tensor=True),
        model.encode(list(pairs.sentence2), convert_to_tensor=True),
    ).numpy()
    scores = np.load(project.path / "reports" / "latest" / "scores.npz")
    np.testing.assert_allclose(scores[f"scores|cls-24|{spec.name}"], expected, rtol=0, atol=TOL)


def test_gate_records_and_names_the_pipeline(gate_run):
    project, run = gate_run
    results = project.results()
    rows = {c["name"]: c for c in results["checkpoints"]}
    shipped = rows["cls-24"]["pipeline"]
    assert (shipped["from"], shipped["pooling"], shipped["max_seq_length"]) == (
        "checkpoint",
        "cls",
        24,
    )
    assert shipped["differs_from_base"] == [
        "pooling cls (base: mean)",
        "max_seq_length 24 (base: 256)",
    ]
    assert rows["peft"]["pipeline"]["from"] == "base"
    assert results["baselines"][0]["pipeline"]["pooling"] == "mean"
    summary = " ".join(run.summary().split())
    assert (
        "pipeline differs from its base: pooling cls (base: mean), max_seq_length 24 (base: 256)"
    ) in summary
    assert "pipeline: its base's (a plain-PEFT adapter folder carries none of its own)" in summary


def test_gate_adapter_checks_use_the_base_in_the_checkpoint_pipeline(gate_run):
    _, run = gate_run
    outcomes = run.outcomes("cls-24")
    assert outcomes["test_disabled_adapter_reproduces_base"] == "PASSED", run.text
    assert outcomes["test_adapter_changes_embeddings"] == "PASSED", run.text
