"""Device and precision choice, shared by training and inference (one code path for CPU and CUDA)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]


def resolve_device(device: Device | str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else the CPU; ``"cuda"`` without a GPU is an error."""
    import torch

    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was asked for but no CUDA device is available; use device 'auto' or 'cpu'"
            )
        return torch.device(device)
    raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")


def resolve_precision(precision: Precision | str, device: torch.device) -> Literal["fp32", "bf16", "fp16"]:
    """``"auto"`` → bf16 on a CUDA device that supports it (else fp16), fp32 on the CPU.

    bf16 is allowed on the CPU when asked for; fp16 needs CUDA.
    """
    import torch

    if precision == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"unknown precision {precision!r}; use 'auto', 'fp32', 'bf16' or 'fp16'")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision 'fp16' needs a CUDA device, the run is on {device.type!r}; use 'bf16' or 'fp32' on the CPU"
        )
    return precision


def autocast(precision: Literal["fp32", "bf16", "fp16"], device: torch.device):
    """The autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(array, device: torch.device) -> torch.Tensor:
    """Numpy batch → tensor on ``device``: pinned memory and a non-blocking copy on CUDA."""
    import torch

    t = torch.from_numpy(array)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on a CUDA ``device`` (timing); nothing on the CPU."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
