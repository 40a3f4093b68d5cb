"""Validation of ``reset(options={"low": ..., "high": ...})``, shared by every cart-pole env."""

from __future__ import annotations

import math
import numbers
from typing import Any

from continuous_cartpole.physics import CartPoleParams

DEFAULT_LOW, DEFAULT_HIGH = -0.05, 0.05


def reset_bounds(options: dict[str, Any] | None, params: CartPoleParams) -> tuple[float, float]:
    """The interval each state variable is drawn from at reset: the defaults, or the options' ``low``/``high``."""
    if not options:
        return DEFAULT_LOW, DEFAULT_HIGH
    low = _bound(options, "low", DEFAULT_LOW)
    high = _bound(options, "high", DEFAULT_HIGH)
    if low > high:
        raise ValueError(f"reset option low ({low}) must not exceed high ({high})")
    limit = min(params.observation_high)
    if max(-low, high) > limit:
        raise ValueError(
            f"reset options low={low}, high={high} must lie within +-{limit:.4g}, "
            "so that every start state is inside the observation space"
        )
    return low, high


def _bound(options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"reset option {key!r} must be a finite number, got {value!r}")
    return float(value)
