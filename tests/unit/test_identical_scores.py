"""A candidate whose scores are the baseline's within float noise is called identical: an
adapter never applied, or a full model with no change from the baseline. A real small change
is not. The tolerance comes from the tolerance table, by device and dtype."""

from __future__ import annotations

import numpy as np
import pytest

from harness.checkpoint.tolerances import IDENTICAL_SCORES_ATOL, identical_scores_atol
from harness.config import ComparisonSpec, DatasetSpec
from harness.quality.checks import check_beats_baseline
from harness.quality.evaluate import Evaluation, LoadedDataset, compare_with_baseline
from harness.quality.pairs import PairDataset

SPEC = ComparisonSpec(("spearman",), min_delta=0.0, n_resamples=50, confidence=0.95, seed=0)
N = 300
#: the largest per-pair score difference measured on the CPU in float32 between encodes of the
#: same model (re-batched, reordered, served from the disk cache) or of an untrained DoRA one
#: rounding step from its base, see tolerances.py
MEASURED_NOISE = 2.7e-7
#: the largest score move of a LoRA a thousandth as strong as the weakest [effect] accepts
WEAKEST_MOVE = 1e-4


@pytest.fixture(scope="module")
def dataset() -> LoadedDataset:
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 5, N)
    test = PairDataset.build(
        "it", "it.jsonl", [f"a{i}" for i in range(N)], [f"b{i}" for i in range(N)], scores=gold
    )
    return LoadedDataset(DatasetSpec("it", "gate", test.path, "jsonl"), test, None)


@pytest.fixture(scope="module")
def baseline(dataset) -> Evaluation:
    scores = dataset.test.scores / 5 + np.random.default_rng(1).normal(0, 0.2, N)
    return Evaluation("base", "baseline", "it", scores, {"spearman": 0.5})


def compared(baseline, dataset, change: np.ndarray, *, kind: str = "adapter", **where):
    candidate = Evaluation("cand", "candidate", "it", baseline.scores + change, {"spearman": 0.5})
    compare_with_baseline(candidate, baseline, dataset, SPEC, **where)
    candidate.checkpoint_kind = kind
    return candidate


def one_pair(difference: float) -> np.ndarray:
    change = np.zeros(N)
    change[N // 2] = difference
    return change


@pytest.mark.parametrize(
    "device, dtype",
    [("cpu", "float32"), ("cuda", "float32"), ("cuda:1", "float32")],
)
def test_the_float32_tolerance_sits_between_noise_and_a_real_change(device, dtype):
    atol = identical_scores_atol(dtype, device)
    assert 20 * MEASURED_NOISE < atol <= WEAKEST_MOVE / 5


def test_the_table_has_a_tolerance_per_device_and_dtype():
    assert identical_scores_atol("float32", "cuda:1") == IDENTICAL_SCORES_ATOL["cuda"]["float32"]
    assert identical_scores_atol("float32", "cpu") == IDENTICAL_SCORES_ATOL["cpu"]["float32"]
    # in low precision a cast moves scores as much as a weak adapter: only bit equality
    assert identical_scores_atol("bfloat16", "cpu") == identical_scores_atol("float16", "cuda") == 0


def test_noise_level_differences_are_called_identical_and_not_applied(baseline, dataset):
    noise = np.random.default_rng(2).uniform(-MEASURED_NOISE, MEASURED_NOISE, N)
    candidate = compared(baseline, dataset, noise, dtype="float32", device="cpu")
    assert candidate.identical_to_baseline
    assert 0 < candidate.max_score_difference <= MEASURED_NOISE
    assert candidate.to_dict()["max_score_difference"] == candidate.max_score_difference
    message = check_beats_baseline(candidate, SPEC)
    assert message is not None
    assert "identical to the baseline's on all 300 pairs of 'it'" in message
    assert f"largest per-pair score difference {candidate.max_score_difference:.2g}" in message
    assert "within the tolerance 1e-05" in message and "never applied" in message


def test_a_real_small_change_is_not_identical(baseline, dataset):
    candidate = compared(baseline, dataset, one_pair(WEAKEST_MOVE), dtype="float32", device="cpu")
    assert not candidate.identical_to_baseline
    assert candidate.max_score_difference == pytest.approx(WEAKEST_MOVE)
    message = check_beats_baseline(candidate, SPEC)
    assert message is not None and "identical" not in message  # judged on its metrics


def test_the_tolerance_follows_the_dtype_and_device(baseline, dataset):
    change = one_pair(1.5e-5)  # above the CPU's float32 tolerance, under CUDA's placeholder
    on_cpu = compared(baseline, dataset, change, dtype="float32", device="cpu")
    on_cuda = compared(baseline, dataset, change, dtype="float32", device="cuda:0")
    bf16 = compared(baseline, dataset, one_pair(MEASURED_NOISE), dtype="bfloat16", device="cpu")
    assert not on_cpu.identical_to_baseline and on_cuda.identical_to_baseline
    assert on_cuda.identical_tolerance == IDENTICAL_SCORES_ATOL["cuda"]["float32"]
    assert not bf16.identical_to_baseline


def test_a_full_model_identical_to_its_baseline_is_no_change(baseline, dataset):
    candidate = compared(baseline, dataset, np.zeros(N), kind="full_model")
    message = check_beats_baseline(candidate, SPEC)
    assert message is not None and "largest per-pair score difference 0," in message
    assert "no change from the baseline (base)" in message and "never applied" not in message
