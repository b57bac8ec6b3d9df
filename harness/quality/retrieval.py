"""Retrieval evaluation: rank a corpus for each query by cosine similarity and score the ranking.

A :class:`RetrievalTask` is a corpus, a list of queries and each query's relevant documents.
Build one from a labelled pair data set (:func:`task_from_pairs`: every sentence is a
document, and a sentence with a positive partner is a query) or read one in BEIR's layout
(:func:`read_beir`). Per-query metrics are defined exactly as sentence-transformers'
``InformationRetrievalEvaluator`` defines them; equal scores rank in corpus order (the earlier
document first). With ``exclude_self`` a query never retrieves its own corpus entry.

Candidate and baseline are compared with a paired bootstrap over queries
(:func:`compare_retrieval`): one matrix of resample indices is shared by both models and each
metric is the mean of its per-query values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from harness.errors import DataError
from harness.quality.bootstrap import (
    MetricComparison,
    bootstrap_indices,
    check_resampling,
    percentile_interval,
)
from harness.quality.metrics import cosine_scores
from harness.quality.pair_files import Place, read_records
from harness.quality.pairs import PairDataset

__all__ = [
    "DEFAULT_METRICS",
    "METRIC_KINDS",
    "RecallCurve",
    "RetrievalTask",
    "compare_retrieval",
    "is_retrieval_metric",
    "metrics_from_ranks",
    "parse_metric",
    "per_query_metrics",
    "positive_scores",
    "read_beir",
    "recall_curve",
    "relevant_ranks",
    "retrieval_intervals",
    "task_from_pairs",
]

DEFAULT_METRICS: tuple[str, ...] = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "map@100",
)
METRIC_KINDS: tuple[str, ...] = ("recall", "precision", "accuracy", "mrr", "ndcg", "map")
_METRIC_FORM = re.compile(r"^([a-z]+)@([1-9][0-9]*)$")
#: how many float64 scores one chunk of queries may hold at once (32 MiB)
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class RetrievalTask:
    """Queries, a corpus and each query's relevant documents (indices into the corpus).

    ``self_index[q]`` is the corpus entry that is query ``q`` itself (or None); with
    ``exclude_self`` that entry is left out of the query's ranking.
    """

    name: str
    path: Path
    corpus_ids: tuple[str, ...]
    corpus_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    relevant: tuple[frozenset[int], ...]
    exclude_self: bool
    self_index: tuple[int | None, ...]

    def __post_init__(self) -> None:
        n_corpus, n_queries = len(self.corpus_ids), len(self.query_ids)
        if len(self.corpus_texts) != n_corpus:
            raise ValueError(f"{len(self.corpus_texts)} corpus texts for {n_corpus} corpus ids")
        for field in ("query_texts", "relevant", "self_index"):
            if len(getattr(self, field)) != n_queries:
                raise ValueError(
                    f"{field} has {len(getattr(self, field))} entries, expected "
                    f"{n_queries} (one per query)"
                )
        if n_queries == 0 or n_corpus == 0:
            raise ValueError("a retrieval task needs at least one query and one document")
        for q, (docs, own) in enumerate(zip(self.relevant, self.self_index, strict=True)):
            if not docs:
                raise ValueError(f"query {self.query_ids[q]!r} has no relevant document")
            if min(docs) < 0 or max(docs) >= n_corpus:
                raise ValueError(f"query {self.query_ids[q]!r} names a document outside the corpus")
            if own is not None and not 0 <= own < n_corpus:
                raise ValueError(f"query {self.query_ids[q]!r}: self_index {own} is out of range")
            if self.exclude_self and own in docs:
                raise ValueError(
                    f"query {self.query_ids[q]!r} is relevant to itself, which exclude_self "
                    "leaves out of its ranking"
                )

    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @property
    def n_corpus(self) -> int:
        return len(self.corpus_ids)

    @property
    def n_pairs(self) -> int:
        """Number of (query, relevant document) pairs."""
        return sum(len(docs) for docs in self.relevant)

    def texts(self) -> list[str]:
        """Every distinct text, corpus first then queries, in first-seen order: what to encode."""
        return list(dict.fromkeys(self.corpus_texts + self.query_texts))

    def embeddings(self, vectors: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Split the embeddings of :meth:`texts` (one row each, in that order) into
        ``(query_embeddings, corpus_embeddings)``."""
        table = np.asarray(vectors)
        texts = self.texts()
        if table.ndim != 2 or table.shape[0] != len(texts):
            raise ValueError(
                f"expected one embedding row per text of texts() ({len(texts)}), got shape "
                f"{table.shape}"
            )
        row = {text: i for i, text in enumerate(texts)}
        return (
            table[[row[t] for t in self.query_texts]],
            table[[row[t] for t in self.corpus_texts]],
        )

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The (query, relevant document) pairs as two index arrays, in query order and, within
        a query, in corpus order: the order of :func:`relevant_ranks` and
        :func:`positive_scores`."""
        queries = np.repeat(np.arange(self.n_queries), [len(d) for d in self.relevant])
        docs = np.fromiter(
            (d for rel in self.relevant for d in sorted(rel)), dtype=np.int64, count=len(queries)
        )
        return queries, docs


def task_from_pairs(data: PairDataset, *, name: str, exclude_self: bool = True) -> RetrievalTask:
    """A retrieval task from labelled pairs: the corpus is every distinct sentence (first-seen
    order), each sentence with a positive partner (label 1) is a query, and its relevant
    documents are those partners.

    A pair of two equal sentences adds nothing. Ids are the sentences' zero-padded corpus
    positions, so sorting ids keeps corpus order. Raises DataError when the data set has no
    labels or no positive pair.
    """
    if data.labels is None:
        raise DataError(
            data.path,
            f"data set {data.name!r} has no labels, so its relevant documents are unknown",
            "add a 0/1 'label' column, or set binary_cutoff for a data set with graded scores",
        )
    corpus = data.unique_texts()
    position = {text: i for i, text in enumerate(corpus)}
    partners: dict[int, set[int]] = {}
    for a, b, label in zip(data.sentence1, data.sentence2, data.labels, strict=True):
        if label == 1 and a != b:
            partners.setdefault(position[a], set()).add(position[b])
            partners.setdefault(position[b], set()).add(position[a])
    if not partners:
        raise DataError(
            data.path,
            f"data set {data.name!r} has no positive pair (label 1) of two different sentences, "
            "so no query has a relevant document",
            "evaluate retrieval on data with positive pairs, or lower binary_cutoff",
        )
    width = len(str(len(corpus) - 1))
    ids = tuple(f"{i:0{width}d}" for i in range(len(corpus)))
    queries = sorted(partners)
    return RetrievalTask(
        name=name,
        path=data.path,
        corpus_ids=ids,
        corpus_texts=tuple(corpus),
        query_ids=tuple(ids[q] for q in queries),
        query_texts=tuple(corpus[q] for q in queries),
        relevant=tuple(frozenset(partners[q]) for q in queries),
        exclude_self=exclude_self,
        self_index=tuple(queries),
    )


# --------------------------------------------------------------------------- BEIR layout


def _beir_id(path: Path, place: Place, record: Mapping[str, Any]) -> str:
    if "_id" not in record:
        raise place.error(path, "missing key '_id'", 'give every line an id: {"_id": "doc1", ...}')
    value = record["_id"]
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise place.error(
            path,
            f"'_id' must be a non-empty string, got {value!r}",
            'write the id as "_id": "doc1"',
        )
    return str(value)


def _beir_text(path: Path, place: Place, record: Mapping[str, Any], key: str) -> str:
    if key not in record:
        raise place.error(path, f"missing key {key!r}", f'give every line its text: "{key}": "..."')
    value = record[key]
    if value is None and key == "title":
        return ""
    if not isinstance(value, str):
        raise place.error(
            path, f"{key!r} must be a string, got {type(value).__name__}", f"write {key} as text"
        )
    return value


def _beir_file(folder: Path, relative: str, fix: str) -> Path:
    path = folder / relative
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "is not a file", fix)
    return path


def _read_beir_jsonl(path: Path, kind: str) -> tuple[list[str], list[str]]:
    """(ids, texts) of a BEIR corpus.jsonl (``kind`` "document") or queries.jsonl ("query")."""
    ids: list[str] = []
    texts: list[str] = []
    first_line: dict[str, int | None] = {}
    for place, record in read_records(path, "jsonl").records:
        key = _beir_id(path, place, record)
        if key in first_line:
            raise place.error(
                path,
                f"duplicate {kind} id {key!r} (first on line {first_line[key]})",
                f"give every {kind} a distinct '_id'",
            )
        first_line[key] = place.line
        text = _beir_text(path, place, record, "text")
        if kind == "document" and "title" in record:
            title = _beir_text(path, place, record, "title")
            if title.strip():
                text = f"{title} {text}"
        text = text.strip()
        if not text:
            raise place.error(path, f"{kind} {key!r} has no text", f"give every {kind} a 'text'")
        ids.append(key)
        texts.append(text)
    if not ids:
        raise DataError(path, f"the file holds no {kind}", f"write one {kind} per line")
    return ids, texts


def _read_qrels(
    path: Path, queries: Mapping[str, int], corpus: Mapping[str, int]
) -> dict[int, set[int]]:
    """query index -> relevant corpus indices (score > 0) from a BEIR qrels TSV."""
    found = read_records(path, "tsv")
    assert found.header is not None
    header, where = found.header
    if header != ["query-id", "corpus-id", "score"]:
        raise where.error(
            path,
            f"the header is {header}, expected query-id, corpus-id and score",
            "start the file with the tab-separated header: query-id\tcorpus-id\tscore",
        )
    relevant: dict[int, set[int]] = {}
    for place, row in found.records:
        try:
            score = float(row["score"])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise place.error(
                path, f"score {row['score']!r} is not a number", "write a relevance such as 1"
            )
        for key, ids, kind in (("query-id", queries, "queries"), ("corpus-id", corpus, "corpus")):
            if row[key].strip() not in ids:
                raise place.error(
                    path,
                    f"{key} {row[key]!r} is not in {kind}.jsonl",
                    f"add it to {kind}.jsonl, or remove this line",
                )
        if score > 0:
            q, d = queries[row["query-id"].strip()], corpus[row["corpus-id"].strip()]
            relevant.setdefault(q, set()).add(d)
    return relevant


def read_beir(
    folder: str | Path, *, name: str, split: str = "test", exclude_self: bool = False
) -> RetrievalTask:
    """Read a retrieval task in BEIR's layout: ``corpus.jsonl`` ({"_id", "title"?, "text"};
    a non-empty title is put before the text, as BEIR does), ``queries.jsonl``
    ({"_id", "text"}) and ``qrels/<split>.tsv`` (query-id, corpus-id, score; score > 0 is
    relevant).

    Only queries with a relevant document are kept, in the order of queries.jsonl. With
    ``exclude_self`` a query never retrieves the document whose id equals its own (MTEB's
    ``ignore_identical_ids``), and a qrel naming that document is dropped. Raises DataError
    naming the file and line for a missing file, bad JSON, a missing key, a duplicate id, a
    qrel naming an unknown id, or no query with a relevant document.
    """
    root = Path(folder)
    layout = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
    corpus_path = _beir_file(root, "corpus.jsonl", f"check the folder: {layout}")
    queries_path = _beir_file(root, "queries.jsonl", f"check the folder: {layout}")
    qrels_dir = root / "qrels"
    present = sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    qrels_path = _beir_file(
        root,
        f"qrels/{split}.tsv",
        f"use one of the splits present ({', '.join(present)})"
        if present
        else f"check the folder: {layout}",
    )
    corpus_ids, corpus_texts = _read_beir_jsonl(corpus_path, "document")
    query_ids, query_texts = _read_beir_jsonl(queries_path, "query")
    corpus_index = {key: i for i, key in enumerate(corpus_ids)}
    relevant = _read_qrels(qrels_path, {key: i for i, key in enumerate(query_ids)}, corpus_index)
    own = [corpus_index.get(key) for key in query_ids]
    if exclude_self:  # a query's own document can never be retrieved: not relevant either
        for q, docs in relevant.items():
            if own[q] is not None:
                docs.discard(own[q])
    kept = [q for q in range(len(query_ids)) if relevant.get(q)]
    if not kept:
        raise DataError(
            qrels_path,
            f"no query has a relevant document (score > 0) in split {split!r}",
            "check that the qrels' scores are positive for relevant documents",
        )
    return RetrievalTask(
        name=name,
        path=root,
        corpus_ids=tuple(corpus_ids),
        corpus_texts=tuple(corpus_texts),
        query_ids=tuple(query_ids[q] for q in kept),
        query_texts=tuple(query_texts[q] for q in kept),
        relevant=tuple(frozenset(relevant[q]) for q in kept),
        exclude_self=exclude_self,
        self_index=tuple(own[q] for q in kept),
    )


# --------------------------------------------------------------------------- metric names


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; kinds are :data:`METRIC_KINDS`, k a positive integer.

    Raises ValueError naming the known forms otherwise.
    """
    match = _METRIC_FORM.match(name)
    if match is None or match.group(1) not in METRIC_KINDS:
        forms = ", ".join(f"{kind}@K" for kind in METRIC_KINDS)
        raise ValueError(f"unknown retrieval metric {name!r}; known forms: {forms} (K >= 1)")
    return match.group(1), int(match.group(2))


def is_retrieval_metric(name: str) -> bool:
    """True iff ``name`` is a retrieval metric such as ``"recall@10"``."""
    try:
        parse_metric(name)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- ranking


def _unit_rows(emb: ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(emb, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a (n, d) array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contain non-finite values")
    return arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)


def _checked(
    query_emb: ArrayLike, corpus_emb: ArrayLike, task: RetrievalTask
) -> tuple[np.ndarray, np.ndarray]:
    queries = _unit_rows(query_emb, "query embeddings")
    corpus = _unit_rows(corpus_emb, "corpus embeddings")
    if queries.shape[0] != task.n_queries or corpus.shape[0] != task.n_corpus:
        raise ValueError(
            f"task {task.name!r} has {task.n_queries} queries and {task.n_corpus} documents, "
            f"got {queries.shape[0]} query and {corpus.shape[0]} corpus embeddings"
        )
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError(
            f"query embeddings have width {queries.shape[1]}, corpus embeddings {corpus.shape[1]}"
        )
    return queries, corpus


def relevant_ranks(query_emb: ArrayLike, corpus_emb: ArrayLike, task: RetrievalTask) -> np.ndarray:
    """The 1-based rank of every (query, relevant document) pair, in :meth:`RetrievalTask.pairs`
    order.

    Documents are ranked by cosine similarity, highest first; equal scores rank in corpus
    order, and documents with identical embeddings always score exactly equal (a matrix
    product alone can score them a rounding error apart). With ``task.exclude_self`` the
    query's own entry is left out of its ranking.
    """
    queries, corpus = _checked(query_emb, corpus_emb, task)
    distinct, copies = np.unique(corpus, axis=0, return_inverse=True)
    expand = distinct.shape[0] < corpus.shape[0]
    if not expand:
        distinct = corpus
    pair_q, pair_d = task.pairs()
    ranks = np.empty(pair_q.shape[0], dtype=np.int64)
    n = task.n_corpus
    corpus_pos = np.arange(n)
    own = np.array([-1 if i is None else i for i in task.self_index], dtype=np.int64)
    starts = np.searchsorted(pair_q, np.arange(task.n_queries + 1))  # pairs of query q: [s, e)
    q0 = 0
    while q0 < task.n_queries:  # chunks of queries whose scores and comparisons fit the budget
        q1 = q0 + 1
        while q1 < task.n_queries and (q1 + 1 - q0 + starts[q1 + 1] - starts[q0]) * n <= (
            _CHUNK_ELEMENTS
        ):
            q1 += 1
        scores = queries[q0:q1] @ distinct.T
        if expand:
            scores = scores[:, copies.reshape(-1)]
        if task.exclude_self:
            local = np.flatnonzero(own[q0:q1] >= 0)
            scores[local, own[q0 + local]] = -np.inf
        p0, p1 = starts[q0], starts[q1]
        rows = scores[pair_q[p0:p1] - q0]
        mine = rows[np.arange(p1 - p0), pair_d[p0:p1]][:, None]
        ahead = (rows > mine) | ((rows == mine) & (corpus_pos < pair_d[p0:p1, None]))
        ranks[p0:p1] = 1 + np.count_nonzero(ahead, axis=1)
        q0 = q1
    return ranks


def _ndcg_denominators(n_relevant: np.ndarray, k: int) -> np.ndarray:
    discounts = np.concatenate(([0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))))
    return discounts[np.minimum(n_relevant, k)]


def metrics_from_ranks(
    ranks: ArrayLike, task: RetrievalTask, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, np.ndarray]:
    """Per-query metric values from :func:`relevant_ranks`, each an array of ``n_queries``.

    As sentence-transformers' InformationRetrievalEvaluator defines them: recall@k =
    hits/#relevant, precision@k = hits/k, accuracy@k = 1 if any hit, mrr@k = 1/rank of the
    first relevant document within k, ndcg@k with binary gains over an ideal of
    min(k, #relevant) hits, map@k = the sum of the precisions at each hit divided by
    min(k, #relevant).
    """
    r = np.asarray(ranks, dtype=np.int64)
    pair_q, _ = task.pairs()
    if r.shape != pair_q.shape:
        raise ValueError(f"expected {pair_q.shape[0]} ranks (one per pair), got shape {r.shape}")
    n_q = task.n_queries
    n_rel = np.bincount(pair_q, minlength=n_q)
    # within each query, the relevant documents by rank: the i-th hit has precision i / rank
    order = np.lexsort((r, pair_q))
    q_sorted, r_sorted = pair_q[order], r[order]
    nth = np.arange(r.shape[0]) - np.searchsorted(q_sorted, q_sorted) + 1
    out: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(metrics):
        kind, k = parse_metric(name)
        within = r_sorted <= k
        hits = np.bincount(q_sorted, weights=within, minlength=n_q)
        if kind == "recall":
            values = hits / n_rel
        elif kind == "precision":
            values = hits / k
        elif kind == "accuracy":
            values = (hits > 0).astype(np.float64)
        elif kind == "mrr":
            best = np.full(n_q, np.inf)
            np.minimum.at(best, q_sorted, r_sorted.astype(np.float64))
            values = np.where(best <= k, 1.0 / best, 0.0)
        elif kind == "ndcg":
            gains = np.where(within, 1.0 / np.log2(r_sorted + 1.0), 0.0)
            values = np.bincount(q_sorted, weights=gains, minlength=n_q) / _ndcg_denominators(
                n_rel, k
            )
        else:  # map
            precisions = np.where(within, nth / r_sorted, 0.0)
            values = np.bincount(q_sorted, weights=precisions, minlength=n_q) / np.minimum(n_rel, k)
        out[name] = values
    return out


def per_query_metrics(
    query_emb: ArrayLike,
    corpus_emb: ArrayLike,
    task: RetrievalTask,
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, np.ndarray]:
    """Each metric's value for every query (arrays of ``n_queries``): see
    :func:`metrics_from_ranks` for the definitions and :func:`relevant_ranks` for the ranking.
    The mean over queries is the evaluator's reported value."""
    for name in metrics:
        parse_metric(name)  # refuse a bad name before ranking
    return metrics_from_ranks(relevant_ranks(query_emb, corpus_emb, task), task, metrics)


def positive_scores(query_emb: ArrayLike, corpus_emb: ArrayLike, task: RetrievalTask) -> np.ndarray:
    """The cosine score of every (query, relevant document) pair, in
    :meth:`RetrievalTask.pairs` order."""
    queries, corpus = _checked(query_emb, corpus_emb, task)
    pair_q, pair_d = task.pairs()
    return cosine_scores(queries[pair_q], corpus[pair_d])


@dataclass(frozen=True)
class RecallCurve:
    """Mean recall@k over queries for k = 1..K."""

    k: tuple[int, ...]
    recall: tuple[float, ...]

    def to_dict(self) -> dict[str, list[Any]]:
        return {"k": list(self.k), "recall": list(self.recall)}


def recall_curve(ranks: ArrayLike, task: RetrievalTask, max_k: int = 100) -> RecallCurve:
    """Mean recall@k for k = 1..max_k from :func:`relevant_ranks` (the report's curve)."""
    if max_k < 1:
        raise ValueError(f"max_k must be at least 1, got {max_k}")
    r = np.asarray(ranks, dtype=np.int64)
    pair_q, _ = task.pairs()
    if r.shape != pair_q.shape:
        raise ValueError(f"expected {pair_q.shape[0]} ranks (one per pair), got shape {r.shape}")
    # each pair adds 1/(#relevant * #queries) to the recall of every k >= its rank
    weight = 1.0 / (np.bincount(pair_q, minlength=task.n_queries)[pair_q] * task.n_queries)
    kept = r <= max_k
    steps = np.bincount(r[kept], weights=weight[kept], minlength=max_k + 1)[1:]
    curve = np.minimum(np.cumsum(steps), 1.0)
    return RecallCurve(k=tuple(range(1, max_k + 1)), recall=tuple(float(x) for x in curve))


# --------------------------------------------------------------------------- bootstrap


def _per_query(values: Mapping[str, ArrayLike], what: str) -> dict[str, np.ndarray]:
    if not values:
        raise ValueError(f"{what}: no metrics given")
    out: dict[str, np.ndarray] = {}
    for name, column in values.items():
        parse_metric(name)
        arr = np.asarray(column, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} {name!r}: expected a non-empty 1-D array of finite values")
        out[name] = arr
    sizes = {arr.shape[0] for arr in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"{what}: the metrics cover different numbers of queries {sorted(sizes)}")
    return out


def _resampled_means(
    columns: Mapping[str, np.ndarray], idx: np.ndarray
) -> dict[str, tuple[float, np.ndarray]]:
    """Each metric's mean over all queries and over every resample (rows of ``idx``)."""
    return {name: (float(arr.mean()), arr[idx].mean(axis=1)) for name, arr in columns.items()}


def compare_retrieval(
    candidate: Mapping[str, ArrayLike],
    baseline: Mapping[str, ArrayLike],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricComparison]:
    """Candidate vs baseline per-query metric values (:func:`per_query_metrics` of each model on
    the same task), metric by metric.

    The value is the mean over queries; intervals are percentile intervals of a paired
    bootstrap over queries (one index matrix, from ``bootstrap_indices(n_queries,
    n_resamples, seed)``, for both models). Raises ValueError when the two disagree on the
    metrics or the number of queries.
    """
    check_resampling(n_resamples, confidence)
    cand = _per_query(candidate, "candidate")
    base = _per_query(baseline, "baseline")
    if cand.keys() != base.keys():
        raise ValueError(f"candidate has metrics {list(cand)}, baseline {list(base)}")
    n = next(iter(cand.values())).shape[0]
    n_base = next(iter(base.values())).shape[0]
    if n_base != n:
        raise ValueError(f"candidate has {n} queries, baseline {n_base}")
    idx = bootstrap_indices(n, n_resamples, seed)
    c, b = _resampled_means(cand, idx), _resampled_means(base, idx)
    return {
        name: MetricComparison(
            metric=name,
            candidate=c[name][0],
            baseline=b[name][0],
            delta=c[name][0] - b[name][0],
            delta_ci=percentile_interval(c[name][1] - b[name][1], confidence),
            candidate_ci=percentile_interval(c[name][1], confidence),
            baseline_ci=percentile_interval(b[name][1], confidence),
            confidence=confidence,
            n_resamples=n_resamples,
            greater_is_better=True,
        )
        for name in cand
    }


def retrieval_intervals(
    values: Mapping[str, ArrayLike],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricComparison]:
    """One model's intervals, as its comparison with itself reads (delta 0, interval [0, 0]),
    from the same resamples as :func:`compare_retrieval`."""
    check_resampling(n_resamples, confidence)
    columns = _per_query(values, "values")
    idx = bootstrap_indices(next(iter(columns.values())).shape[0], n_resamples, seed)
    means = _resampled_means(columns, idx)
    return {
        name: MetricComparison(
            metric=name,
            candidate=point,
            baseline=point,
            delta=0.0,
            delta_ci=(0.0, 0.0),
            candidate_ci=percentile_interval(dist, confidence),
            baseline_ci=percentile_interval(dist, confidence),
            confidence=confidence,
            n_resamples=n_resamples,
            greater_is_better=True,
        )
        for name, (point, dist) in means.items()
    }
