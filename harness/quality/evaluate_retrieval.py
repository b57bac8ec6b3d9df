"""Evaluate a model on a retrieval data set, and compare it with the baseline on the same
queries: the product's own question (is the duplicate among the first results?).

A retrieval set derived from a pair set reuses that set's texts, so the run's embeddings of them
serve it (nothing is encoded again); one read from BEIR files encodes its own texts once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis_config import MatryoshkaSpec
from harness.config import ComparisonSpec, DatasetSpec
from harness.errors import DataError, GateInputError
from harness.quality.evaluate import Encode, Evaluation, LoadedDataset, judge_identical
from harness.quality.matryoshka import truncate
from harness.quality.retrieval import (
    RetrievalTask,
    compare_retrieval,
    metrics_from_ranks,
    positive_scores,
    read_beir,
    recall_curve,
    relevant_ranks,
    retrieval_intervals,
    task_from_pairs,
)

#: the report's recall@k curve runs to this k (or the corpus size)
CURVE_MAX_K = 20


@dataclass(frozen=True)
class LoadedRetrieval:
    """A configured retrieval set: its queries, corpus and relevance judgements."""

    spec: DatasetSpec
    task: RetrievalTask
    fingerprint: str

    def texts(self) -> list[str]:
        """Every distinct text of queries and corpus, so each is encoded once."""
        return self.task.texts()

    def describe(self) -> dict[str, Any]:
        """What results.json says of it beside its name and role."""
        return {
            "kind": "retrieval",
            "derived_from": self.spec.derived_from,
            "fingerprint": self.fingerprint,
            "n_queries": self.task.n_queries,
            "n_corpus": self.task.n_corpus,
            "n_relevant": self.task.n_pairs,
            "exclude_self": self.task.exclude_self,
            "metrics": list(self.spec.retrieval_metrics),
            "targets": self.spec.targets,
        }


def load_retrieval(
    spec: DatasetSpec, loaded: Mapping[str, LoadedDataset | LoadedRetrieval | GateInputError]
) -> LoadedRetrieval:
    """A retrieval set from the test part of the pair set it is derived from (already read, in
    `loaded`), or from its BEIR-layout folder."""
    if spec.derived_from is not None:
        source = loaded[spec.derived_from]
        if isinstance(source, GateInputError):
            raise DataError(
                source.path,
                f"retrieval set '{spec.name}' is derived from '{spec.derived_from}', which could "
                f"not be read: {source.problem}",
                source.fix,
            )
        assert isinstance(source, LoadedDataset)
        task = task_from_pairs(source.test, name=spec.name, exclude_self=spec.exclude_self)
    else:
        task = read_beir(
            spec.path, name=spec.name, split=spec.qrels_split, exclude_self=spec.exclude_self
        )
    return LoadedRetrieval(spec, task, _fingerprint(task))


def _fingerprint(task: RetrievalTask) -> str:
    """SHA-256 over queries, corpus, relevance and self-exclusion: which task a verdict was on."""
    content = {
        "version": "retrieval-task-v1",
        "corpus": list(zip(task.corpus_ids, task.corpus_texts, strict=True)),
        "queries": list(zip(task.query_ids, task.query_texts, strict=True)),
        "relevant": [sorted(docs) for docs in task.relevant],
        "exclude_self": task.exclude_self,
    }
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def evaluate_retrieval(
    model: str,
    role: str,
    dataset: LoadedRetrieval,
    encode: Encode,
    matryoshka: MatryoshkaSpec | None = None,
) -> Evaluation:
    """Rank the corpus for every query; the metrics are means of per-query values, and
    `matryoshka`'s dimensions repeat them on truncated, re-normalised embeddings."""
    task, names = dataset.task, dataset.spec.retrieval_metrics
    queries = encode(list(task.query_texts))
    corpus = encode(list(task.corpus_texts))
    ranks = relevant_ranks(queries, corpus, task)
    per_query = metrics_from_ranks(ranks, task, names)
    curve = recall_curve(ranks, task, max_k=min(CURVE_MAX_K, task.n_corpus))
    evaluation = Evaluation(
        model,
        role,
        dataset.spec.name,
        positive_scores(queries, corpus, task),
        {name: float(values.mean()) for name, values in per_query.items()},
        kind="retrieval",
        per_query=per_query,
    )
    evaluation.analyses.update(
        n_queries=task.n_queries,
        n_corpus=task.n_corpus,
        recall_curve=curve.to_dict(),
        matryoshka=_truncated(queries, corpus, task, names, matryoshka),
    )
    return evaluation


def _truncated(
    queries: np.ndarray,
    corpus: np.ndarray,
    task: RetrievalTask,
    names: tuple[str, ...],
    spec: MatryoshkaSpec | None,
) -> dict[str, Any] | None:
    if spec is None or not spec.dimensions:
        return None
    spec.check_width(queries.shape[1])
    rows = []
    for dimension in spec.dimensions:
        ranks = relevant_ranks(truncate(queries, dimension), truncate(corpus, dimension), task)
        values = metrics_from_ranks(ranks, task, names)
        rows.append(
            {"dimension": dimension, "metrics": {n: float(v.mean()) for n, v in values.items()}}
        )
    return {"dimensions": list(spec.dimensions), "rows": rows}


def compare_retrieval_with_baseline(
    candidate: Evaluation,
    baseline: Evaluation,
    spec: ComparisonSpec,
    *,
    dtype: Any = "float32",
    device: str = "cpu",
) -> None:
    """The candidate's paired-bootstrap comparisons over queries, and whether its scores are
    the baseline's within the noise of its dtype on the device."""
    candidate.comparisons = compare_retrieval(
        candidate.per_query,
        baseline.per_query,
        n_resamples=spec.n_resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    judge_identical(candidate, baseline, dtype, device)


def retrieval_own_intervals(evaluation: Evaluation, spec: ComparisonSpec) -> None:
    """The first baseline's own bootstrap intervals over queries."""
    evaluation.comparisons = retrieval_intervals(
        evaluation.per_query,
        n_resamples=spec.n_resamples,
        confidence=spec.confidence,
        seed=spec.seed,
    )
    evaluation.compared_with = evaluation.model
