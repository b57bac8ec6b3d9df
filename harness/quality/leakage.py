"""How much of an evaluation set a model has already seen in training.

A pair is its two sentences in either order (a cosine score does not tell them apart). Pairs
and sentences are counted once each (distinct), and matched two ways: exactly, and after
:func:`normalise` (case, punctuation and spacing ignored), which catches copies that were only
re-typed. A normalised match includes every exact one, so ``normalised >= exact``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from harness.quality.pairs import PairDataset

__all__ = ["MAX_EXAMPLES", "Leakage", "LeakedPair", "Overlap", "leakage", "normalise"]

#: how many leaked pairs a :class:`Leakage` keeps as examples
MAX_EXAMPLES = 5


def normalise(text: str) -> str:
    """*text* casefolded, without punctuation (Unicode category P*), runs of whitespace made
    one space, stripped: ``"Don't  STOP!"`` -> ``"dont stop"``."""
    kept = "".join(c for c in text.casefold() if not unicodedata.category(c).startswith("P"))
    return " ".join(kept.split())


@dataclass(frozen=True)
class Overlap:
    """Of ``total`` distinct evaluation items, ``exact`` are in training as they are and
    ``normalised`` after :func:`normalise`."""

    total: int
    exact: int
    normalised: int

    @property
    def exact_share(self) -> float | None:
        """``exact / total``; None for an empty evaluation."""
        return self.exact / self.total if self.total else None

    @property
    def normalised_share(self) -> float | None:
        """``normalised / total``; None for an empty evaluation."""
        return self.normalised / self.total if self.total else None

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "total": self.total,
            "exact": self.exact,
            "exact_share": self.exact_share,
            "normalised": self.normalised,
            "normalised_share": self.normalised_share,
        }


@dataclass(frozen=True)
class LeakedPair:
    """An evaluation pair found in training, and the training pair it matched."""

    sentence1: str
    sentence2: str
    training_sentence1: str
    training_sentence2: str
    exact: bool

    def to_dict(self) -> dict[str, str]:
        return {
            "sentence1": self.sentence1,
            "sentence2": self.sentence2,
            "training_sentence1": self.training_sentence1,
            "training_sentence2": self.training_sentence2,
            "match": "exact" if self.exact else "normalised",
        }


@dataclass(frozen=True)
class Leakage:
    """Evaluation pairs and sentences found in the training data, with a few examples."""

    pairs: Overlap
    sentences: Overlap
    examples: tuple[LeakedPair, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "pairs": self.pairs.to_dict(),
            "sentences": self.sentences.to_dict(),
            "examples": [example.to_dict() for example in self.examples],
        }


def _pair_key(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def leakage(evaluation: PairDataset, training: PairDataset) -> Leakage:
    """Count the distinct pairs and distinct sentences of *evaluation* that *training* holds,
    exactly and after :func:`normalise`; keep the first :data:`MAX_EXAMPLES` leaked pairs (in
    evaluation order) as examples."""
    # reversed, so that each key keeps its first training pair
    trained = list(zip(training.sentence1, training.sentence2, strict=True))[::-1]
    exact_pairs = {_pair_key(a, b): (a, b) for a, b in trained}
    normal_pairs = {_pair_key(normalise(a), normalise(b)): (a, b) for a, b in trained}

    pairs: dict[frozenset[str], tuple[str, str]] = {}
    for a, b in zip(evaluation.sentence1, evaluation.sentence2, strict=True):
        pairs.setdefault(_pair_key(a, b), (a, b))
    n_exact = n_normal = 0
    examples: list[LeakedPair] = []
    for key, (a, b) in pairs.items():
        exact = key in exact_pairs
        match = exact_pairs.get(key) or normal_pairs.get(_pair_key(normalise(a), normalise(b)))
        if match is None:
            continue
        n_exact += exact
        n_normal += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append(LeakedPair(a, b, match[0], match[1], exact))

    seen = set(training.sentence1) | set(training.sentence2)
    seen_normal = {normalise(s) for s in seen}
    texts = evaluation.unique_texts()
    return Leakage(
        pairs=Overlap(len(pairs), n_exact, n_normal),
        sentences=Overlap(
            len(texts),
            sum(t in seen for t in texts),
            sum(normalise(t) in seen_normal for t in texts),
        ),
        examples=tuple(examples),
    )
