"""Leakage: evaluation pairs and sentences found in the training data, exactly and after
normalisation, on hand-made sets and on STS-B's own train and test files."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from paths import DATASETS, REPO

from harness.errors import DataError
from harness.quality.leakage import MAX_EXAMPLES, leakage, normalise
from harness.quality.pairs import PairDataset, read_pairs


def _pairs(*rows: tuple[str, str]) -> PairDataset:
    return PairDataset.build("hand", "hand.jsonl", [a for a, _ in rows], [b for _, b in rows],
                             scores=[1.0] * len(rows))


def _plain(value: object) -> None:
    """Only JSON's own types all the way down (bool is not taken for a number)."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            _plain(v)
    elif isinstance(value, list):
        for v in value:
            _plain(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), (value, type(value))


# --------------------------------------------------------------------------- normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Don't  STOP!", "dont stop"),
        ("  Straße\tist\n\u00a0GROSS ", "strasse ist gross"),  # casefold, any whitespace
        ("«Quoted» — “fancy”, (brackets) [and] ¿Qué?", "quoted fancy brackets and qué"),
        ("a+b = $5 ~ 50%", "a+b = $5 ~ 50"),  # symbols (S*) stay, only punctuation (P*) goes
        ("well-known e.g. end.Start", "wellknown eg endstart"),
        ("...", ""),
    ],
)
def test_normalise_casefolds_drops_punctuation_and_collapses_whitespace(text, expected):
    assert normalise(text) == expected


# --------------------------------------------------------------------------- by hand


def test_pairs_and_sentences_are_counted_distinct_unordered_exact_and_normalised():
    training = _pairs(
        ("a man plays a guitar.", "a man plays a flute."),
        ("the cat sleeps", "a dog barks"),
        ("It is raining!", "the sun shines"),
        ("unseen", "x"),
        ("The sun shines", "it is RAINING."),  # a later copy: examples show the first
    )
    evaluation = _pairs(
        ("a man plays a guitar.", "a man plays a flute."),  # exact
        ("a man plays a flute.", "a man plays a guitar."),  # the same pair, other order
        ("a dog barks", "the cat sleeps"),  # exact, other order than in training
        ("it is raining", "The  sun shines."),  # normalised only
        ("the cat sleeps", "the sun shines"),  # both sentences seen, the pair never
        ("x", "x"),  # one seen sentence twice: not the pair ("unseen", "x")
        ("new one", "new two"),  # nothing seen
    )

    found = leakage(evaluation, training)

    assert (found.pairs.total, found.pairs.exact, found.pairs.normalised) == (6, 2, 3)
    assert found.pairs.exact_share == pytest.approx(2 / 6)
    assert found.pairs.normalised_share == pytest.approx(3 / 6)
    # distinct sentences: guitar, flute, dog, cat, raining, The sun, sun, x, new one, new two
    assert found.sentences.total == 10
    assert found.sentences.exact == 6  # guitar, flute, dog, cat, the sun shines, x
    assert found.sentences.normalised == 8  # and "it is raining", "The  sun shines."
    assert [(e.sentence1, e.sentence2, e.exact) for e in found.examples] == [
        ("a man plays a guitar.", "a man plays a flute.", True),
        ("a dog barks", "the cat sleeps", True),
        ("it is raining", "The  sun shines.", False),
    ]
    assert (found.examples[2].training_sentence1, found.examples[2].training_sentence2) == (
        "It is raining!",
        "the sun shines",
    )


def test_nothing_shared_is_zero_with_no_examples():
    found = leakage(_pairs(("one", "two")), _pairs(("three", "four")))

    assert found.to_dict() == {
        "pairs": {"total": 1, "exact": 0, "exact_share": 0.0, "normalised": 0,
                  "normalised_share": 0.0},
        "sentences": {"total": 2, "exact": 0, "exact_share": 0.0, "normalised": 0,
                      "normalised_share": 0.0},
        "examples": [],
    }


def test_an_empty_evaluation_has_no_shares():
    found = leakage(_pairs(), _pairs(("a", "b")))

    assert found.pairs.total == found.sentences.total == 0
    assert found.pairs.exact_share is None and found.sentences.normalised_share is None


def test_examples_are_the_first_leaked_pairs_in_evaluation_order_at_most_five():
    rows = [(f"sentence {i}", f"partner {i}") for i in range(MAX_EXAMPLES + 3)]
    training = _pairs(*rows)
    evaluation = _pairs(("fresh", "pair"), *reversed(rows))

    found = leakage(evaluation, training)

    assert found.pairs.exact == MAX_EXAMPLES + 3 == 8
    assert [e.sentence1 for e in found.examples] == [f"sentence {i}" for i in (7, 6, 5, 4, 3)]


def test_to_dict_is_plain_json():
    training = _pairs(("Hello, world", "bye"), ("x", "y"))
    evaluation = _pairs(("hello world", "Bye!"), ("x", "y"), ("p", "q"))

    data = leakage(evaluation, training).to_dict()

    _plain(data)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["pairs"] == {"total": 3, "exact": 1, "exact_share": 1 / 3, "normalised": 2,
                             "normalised_share": 2 / 3}
    assert data["examples"][0] == {
        "sentence1": "hello world", "sentence2": "Bye!", "training_sentence1": "Hello, world",
        "training_sentence2": "bye", "match": "normalised",
    }
    assert data["examples"][1]["match"] == "exact"


# --------------------------------------------------------------------------- real data

_PUNCTUATION = {i: None for i in range(sys.maxunicode + 1)
                if unicodedata.category(chr(i)).startswith("P")}


def _reference_normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold().translate(_PUNCTUATION)).strip()


def _raw_stsb(path: Path) -> list[tuple[str, str]]:
    """Columns 6 and 7 of each tab-separated line, read without the harness."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(cells[5], cells[6]) for cells in (line.split("\t") for line in lines if line)]


def _reference(evaluation: list[tuple[str, str]], training: list[tuple[str, str]], key):
    pairs = {frozenset(map(key, p)) for p in training}
    sentences = {key(s) for p in training for s in p}
    distinct = {frozenset(p) for p in evaluation}
    texts = {s for p in evaluation for s in p}
    return (len(distinct), sum(frozenset(map(key, p)) in pairs for p in distinct),
            len(texts), sum(key(s) in sentences for s in texts))


def _stsb(split: str) -> Path:
    path = DATASETS / "stsb" / f"sts-{split}.csv"
    if not path.is_file():  # a failure, never a skip: a check that did not run is no pass
        pytest.fail(f"{path} is absent: set GATE_DATASETS to the folder holding stsb/",
                    pytrace=False)
    return path


def test_stsb_test_against_stsb_train_matches_a_plain_computation():
    train_path, test_path = _stsb("train"), _stsb("test")
    train = read_pairs(train_path, "stsb", name="stsb-train", binary_cutoff=4.0)
    test = read_pairs(test_path, "stsb", name="stsb-test", binary_cutoff=4.0)

    found = leakage(test, train)

    raw_train, raw_test = _raw_stsb(train_path), _raw_stsb(test_path)
    exact = _reference(raw_test, raw_train, lambda s: s)
    normalised = _reference(raw_test, raw_train, _reference_normalise)
    assert (found.pairs.total, found.pairs.exact, found.sentences.total,
            found.sentences.exact) == exact
    assert (found.pairs.total, found.pairs.normalised, found.sentences.total,
            found.sentences.normalised) == normalised
    # as measured on the public files: 12 of 1377 distinct test pairs, 257 of 2552 sentences
    assert exact == (1377, 12, 2552, 257)
    assert len(found.examples) == MAX_EXAMPLES
    assert all(frozenset((e.sentence1, e.sentence2)) in {frozenset(p) for p in raw_train}
               for e in found.examples)


def test_the_bundled_it_incidents_share_nothing_with_stsb_train():
    train_path = _stsb("train")
    fixture = REPO / "fixtures" / "it_incidents.jsonl"
    incidents = read_pairs(fixture, "jsonl")

    found = leakage(incidents, read_pairs(train_path, "stsb", binary_cutoff=4.0))

    rows = [json.loads(line) for line in fixture.read_text(encoding="utf-8").splitlines() if line]
    raw = [(r["sentence1"], r["sentence2"]) for r in rows]
    assert _reference(raw, _raw_stsb(train_path), _reference_normalise) == (
        found.pairs.total, 0, found.sentences.total, 0)
    assert found.pairs.normalised == found.sentences.normalised == 0
    assert found.examples == ()


def test_training_pairs_without_scores_or_labels_are_read_for_leakage(tmp_path):
    # anchor/positive pairs, as MultipleNegativesRankingLoss trains on: nothing to evaluate,
    # everything to compare
    path = tmp_path / "train.jsonl"
    path.write_text(
        '{"sentence1": "VPN drops every hour", "sentence2": "vpn disconnects hourly"}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="nothing to evaluate"):
        read_pairs(path, "jsonl")

    training = read_pairs(path, "jsonl", texts_only=True)

    assert (training.scores, training.labels) == (None, None)
    evaluation = PairDataset.build("e", "e", ["vpn disconnects hourly"], ["VPN drops every hour!"])
    assert leakage(evaluation, training).pairs.normalised == 1


def test_a_retrieval_set_is_checked_on_its_query_and_relevant_document_pairs():
    from harness.config import load_config
    from harness.quality.evaluate import load_dataset
    from harness.quality.evaluate_retrieval import load_retrieval
    from harness.run.leakage import evaluated_pairs

    config = load_config(REPO / "gate.toml")
    specs = {spec.name: spec for spec in config.datasets}
    pairs = load_dataset(specs["it_incidents"], config.threshold)
    view = load_retrieval(specs["it_incidents_retrieval"], {"it_incidents": pairs})

    judged = evaluated_pairs(view)

    assert len(judged) == 280  # one (query, duplicate) pair per query
    positives = {
        frozenset(p)
        for p, label in zip(
            zip(pairs.test.sentence1, pairs.test.sentence2, strict=True),
            pairs.test.labels,
            strict=True,
        )
        if label == 1
    }
    assert {frozenset(p) for p in zip(judged.sentence1, judged.sentence2, strict=True)} == positives
