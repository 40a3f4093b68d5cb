"""Choosing the torch device for training, with one CPU thread by default."""

from __future__ import annotations

import torch

CPU_THREADS = 1  # measured on a shared 2-core machine: 2 threads made small-network training up to 17x slower


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as given.

    Asking for CUDA without a usable GPU raises ``ValueError``. Resolving to the CPU sets torch to
    ``CPU_THREADS`` intra-op threads (a process-wide setting).
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'") from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for CUDA, but torch finds no usable CUDA GPU here")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif resolved.type == "cpu":
        torch.set_num_threads(CPU_THREADS)
    else:
        raise ValueError(f"unsupported device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return resolved


def warm_up_torch() -> None:
    """Pay torch's one-off lazy imports (the first optimizer imports ``torch._dynamo``: 1-3 s measured here) now,
    so that they are not charged to the wall-clock time of the first training run of a process."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
