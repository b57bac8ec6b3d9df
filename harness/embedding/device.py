"""The device and dtype policy, in one place: which device a run uses, which GPU an xdist
worker takes, and which dtypes the low-precision checks and throughput benchmarks cover."""

from __future__ import annotations

from harness.errors import ConfigError

#: dtypes the gate measures in, by name (torch's own names)
DTYPE_NAMES = ("float32", "float16", "bfloat16")


def resolve_device(requested: str, source: str = "--device") -> str:
    """`auto` picks CUDA when present, else the CPU; asking for CUDA without a GPU is an error."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                source,
                f"'{requested}' was asked for but torch sees no CUDA device",
                "run on a GPU machine, or use --device cpu (or auto)",
            )
        index = int(requested.split(":")[1]) if ":" in requested else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                source,
                f"device '{requested}' does not exist: {torch.cuda.device_count()} CUDA device(s)",
                f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}",
            )
    return requested


def cuda_device_count() -> int:
    import torch

    return torch.cuda.device_count()


def pinned_device(device: str, worker: str | None, cuda_devices: int) -> str:
    """Worker k gets cuda:(k mod count) when the gate runs on "cuda" without an index."""
    if worker is None or device != "cuda" or cuda_devices < 1:
        return device
    return f"cuda:{int(worker.removeprefix('gw')) % cuda_devices}"


def is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def low_precision_dtypes(device: str) -> list[str]:
    """The low-precision dtypes merges are checked in on a device: bfloat16 everywhere, and
    float16 on CUDA (float16 matmuls on the CPU are emulated and slow, and nobody ships them)."""
    return ["bfloat16", "float16"] if is_cuda(device) else ["bfloat16"]


def throughput_dtypes(device: str) -> tuple[str, ...]:
    """The dtypes encode throughput is benchmarked in: float32 everywhere; float16 and
    bfloat16 where CUDA is the device."""
    return DTYPE_NAMES if is_cuda(device) else ("float32",)


def torch_dtype(name: str):
    """The torch dtype of a name in DTYPE_NAMES."""
    import torch

    return getattr(torch, name)


def dtype_name(dtype) -> str:
    """A torch dtype's name ("float32"), the key of the tolerance tables."""
    return str(dtype).removeprefix("torch.")
