"""Checks of the integer arguments of the vector envs, against the memory budget where they set memory."""

from __future__ import annotations

from typing import Any

import numpy as np

# Each sub-env holds about 100 bytes of state and bookkeeping, and a step about as much in temporaries (more with
# per-sub-env parameters): 2**26 sub-envs take some 13 GB, more than a typical machine gives one process.
MAX_NUM_ENVS = 2**26
MAX_EPISODE_STEPS = 2**62  # step counters are int64


def positive_int(name: str, value: Any, limit: int) -> int:
    """``value`` as an int in [1, limit] (NumPy integers accepted, bools refused), or a one-line ``ValueError``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value > limit:
        raise ValueError(f"{name} must be at most {limit:,} (2**{limit.bit_length() - 1}), got {int(value):,}")
    return int(value)
