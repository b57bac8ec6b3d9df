"""Tolerances for "the same output", one table keyed by dtype, with the measurements behind them.

Measured on all-MiniLM-L6-v2 (unit-norm embeddings of 200 STS-B sentences, CPU,
torch 2.13, peft 0.21.2), LoRA r=8 on query/key/value/output.dense/intermediate.dense
with B ~ N(0, 0.02) and N(0, 0.2): max |merged - unmerged| was 2.4e-7 and 4.2e-7 in
float32, 2.9e-3 and 3.4e-3 in bfloat16 (merged in float32, then cast). A disabled
adapter and a saved-and-reloaded merged model reproduced their reference bit for bit
(0.0). Each tolerance leaves a margin of about 20x over the largest measured value.

Re-measured 2026-11-25 on every adapter kind the gate ships (64 probe sentences, CPU, the
gate's own path: `LoadedCandidate.in_dtype`, merged in float32 and cast afterwards), max
|merged - unmerged|:

    adapter                                  float32   bfloat16   float16 (CPU)
    models/minilm-stsb-lora (trained)        2.5e-7    2.4e-3     3.1e-4
    DoRA, query/value                        2.0e-7    2.0e-3     3.1e-4
    rsLoRA r=16, query/value                 1.9e-7    2.0e-3     2.4e-4
    feed-forward targets (18 modules)        2.0e-7    2.1e-3     3.7e-4
    all-linear (37 modules)                  2.1e-7    2.9e-3     3.7e-4
    modules_to_save (LayerNorm) + LoRA       1.8e-7    2.0e-3     3.1e-4
    two adapters, each gated alone           2.5e-7    2.9e-3     2.4e-4

so float32 1e-5 (40x), bfloat16 5e-2 (17x), float16 1e-2 (27x). float16 is only gated on CUDA
(`low_precision_dtypes`); it was measured here on the CPU, no GPU being at hand: re-measure it
on CUDA before tightening it.
"""

from __future__ import annotations

from typing import Any

from harness.embedding.device import dtype_name, is_cuda

#: max absolute difference allowed between merged and unmerged embeddings, per dtype
MERGE_ATOL: dict[str, float] = {
    "float32": 1e-5,
    "bfloat16": 5e-2,
    "float16": 1e-2,
}

#: a disabled adapter must reproduce the base; a reloaded merged model, itself
EXACT_ATOL: dict[str, float] = {
    "float32": 1e-6,
    "bfloat16": 1e-2,
    "float16": 2e-3,
}


def merge_atol(dtype: Any) -> float:
    return MERGE_ATOL[dtype_name(dtype)]


def exact_atol(dtype: Any) -> float:
    return EXACT_ATOL[dtype_name(dtype)]


#: max absolute difference between a text's embedding encoded alone (batch size 1) and the
#: same text encoded among other texts, at another batch size, or in another order (padding).
#: Measured on all-MiniLM-L6-v2 and on it with a LoRA adapter (r=8, query/value), CPU,
#: torch 2.13: 506 texts (300 STS-B test sentences, 200 IT-incident sentences, an empty and a
#: blank text, one letter, 500 umlauts, 320 Japanese characters, 3,000 characters of Markdown)
#: encoded alone vs at batch sizes 2 to 512 and shuffled: max 2.4e-7 (base) and 2.7e-7
#: (adapter) in float32, 2.0e-3 in bfloat16; encoding the same batch twice gave bit-identical
#: output. Margin about 20x.
PADDING_ATOL: dict[str, float] = {
    "float32": 5e-6,
    "bfloat16": 5e-2,
}

#: max | ||embedding|| - 1 | for a model whose pipeline ends in a Normalize module.
#: Measured 9.6e-8 (float32, CPU) over the probe sentences, an empty text and 6,000 characters;
#: bfloat16 is not measured: its spacing just below 1 is 2**-8 = 3.9e-3.
UNIT_NORM_ATOL: dict[str, float] = {
    "float32": 2e-6,
    "bfloat16": 1e-2,
}


def padding_atol(dtype: Any) -> float:
    return PADDING_ATOL[dtype_name(dtype)]


def unit_norm_atol(dtype: Any) -> float:
    return UNIT_NORM_ATOL[dtype_name(dtype)]


#: max |candidate score - baseline score| over a data set's pairs under which a candidate's
#: cosine scores count as identical to the baseline's (quality: "adapter not applied", or a full
#: model with "no change from the baseline"), by the device type the run encodes on and the
#: candidate's dtype.
#: Measured 2026-12-01 on all-MiniLM-L6-v2, CPU, torch 2.13, peft 0.21.2, float32: the 480 pairs
#: of fixtures/it_incidents.jsonl scored the gate's way (batch 64) vs the same model on the
#: distinct texts at batch sizes 1 to 512, shuffled and reversed, and served from a disk cache
#: filled in another order: max 2.4e-7; an untrained LoRA and an untrained DoRA (lora_B zero) vs
#: the base: 0.0 at the same batching, 2.4e-7 re-batched; an untrained DoRA whose magnitudes sit
#: one float32 rounding step above ||W|| (290 test pairs): 2.7e-7. float32 on the CPU: 1e-5
#: (about 40x). On the other side, a cosine score difference is not a cosine distance (a score
#: moves with the square root of a distance): a LoRA with B ~ N(0, 3e-3) has a mean probe cosine
#: distance of 8e-5, just under [effect]'s min_mean_cosine_distance 1e-4, and moves the largest
#: score by 3e-3, 300x the tolerance; B ~ N(0, 1e-4) (distance 9e-8) still by 1e-4. CUDA float32
#: (2e-5, twice the CPU's, for kernels chosen by batch shape and non-deterministic reductions) is
#: a conservative placeholder, not measured: measure it when a GPU is at hand (the same encodes
#: on CUDA) and replace it. In bfloat16 and float16 re-batching alone moves embeddings by about
#: 2e-3 (PADDING_ATOL), as much as the weakest adapter [effect] accepts moves a score: no
#: tolerance tells the two apart, so only bit equality counts as identical there.
IDENTICAL_SCORES_ATOL: dict[str, dict[str, float]] = {
    "cpu": {"float32": 1e-5, "bfloat16": 0.0, "float16": 0.0},
    "cuda": {"float32": 2e-5, "bfloat16": 0.0, "float16": 0.0},
}


def identical_scores_atol(dtype: Any, device: str) -> float:
    """The "identical scores" tolerance for a candidate in `dtype` on `device`."""
    return IDENTICAL_SCORES_ATOL["cuda" if is_cuda(device) else "cpu"][dtype_name(dtype)]
