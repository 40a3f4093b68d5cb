"""The limits every number a run takes is checked against, before anything is allocated or written.

``MEMORY_BUDGET_BYTES`` bounds what the sizes a user sets make a run allocate up front: parallel envs (training,
evaluation), replay and rollout buffers, and networks with their optimizer state and target copies. The checks use
estimates of those allocations, so a refusal names its estimate and the budget, and what to lower.

Seeds: a run derives its evaluation seeds up to ``(seed + 2) * 2**40`` (``baselines.training``), and every seed must
stay below 2**64 (NumPy's and torch's limit), hence ``MAX_TRAIN_SEED``; a seed given to ``evaluate`` or ``render``
seeds sub-envs ``seed .. seed + n - 1``.
"""

from __future__ import annotations

MEMORY_BUDGET_BYTES = 2 * 2**30  # 2 GiB
SEED_LIMIT = 2**64  # NumPy, Gymnasium and torch take seeds in [0, 2**64)
MAX_TRAIN_SEED = 2**24 - 2  # (seed + 2) * 2**40 <= 2**64
# Bytes per sub-env, about twice what was measured (resident memory after reset and three steps, 1e6 sub-envs; SB3:
# 2000): our NumPy vector env 106, the torch one 230, SB3's DummyVecEnv (a whole wrapped Gymnasium env each) 6.8 KiB.
VECTOR_ENV_BYTES = 256
TORCH_ENV_BYTES = 512
SB3_ENV_BYTES = 16 * 2**10


def format_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError  # unreachable


def check_memory(estimate: float, what: str, fix: str) -> None:
    """``ValueError`` when ``what`` is estimated to need more than ``MEMORY_BUDGET_BYTES``."""
    if estimate > MEMORY_BUDGET_BYTES:
        raise ValueError(
            f"{what} would allocate about {format_bytes(estimate)}, over the {format_bytes(MEMORY_BUDGET_BYTES)} "
            f"memory budget; {fix}"
        )


def max_parallel_envs(bytes_per_env: int) -> int:
    """The most sub-envs of ``bytes_per_env`` each that fit the budget."""
    return MEMORY_BUDGET_BYTES // bytes_per_env
