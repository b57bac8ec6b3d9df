"""Peak memory of a measured block: CUDA's allocator peak, or the process's peak RSS."""

from __future__ import annotations

import resource
import sys

from harness.embedding.device import is_cuda


class PeakMemory:
    """Peak memory over a block: CUDA `max_memory_allocated`, else the process's peak RSS.

    On Linux the RSS high-water mark (VmHWM) is reset at the start of the block, so the
    peak is the block's own; elsewhere it is the process's peak since it started. torch is
    imported only for a CUDA device.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self.bytes = 0
        self.kind = ""

    def __enter__(self) -> PeakMemory:
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.kind = "cuda max_memory_allocated"
        elif _reset_peak_rss():
            self.kind = "peak RSS (VmHWM, reset per benchmark)"
        else:
            self.kind = "peak RSS of the process since it started"
        return self

    def __exit__(self, *exc: object) -> None:
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(self.device)
            self.bytes = int(torch.cuda.max_memory_allocated(self.device))
        else:
            self.bytes = peak_rss_bytes()


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """VmHWM where /proc exists, else getrusage's ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
