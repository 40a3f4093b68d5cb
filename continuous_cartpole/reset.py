"""Validation of ``reset(seed=..., options={"low": ..., "high": ...})``, shared by every cart-pole env."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from continuous_cartpole.physics import CartPoleParams

DEFAULT_LOW, DEFAULT_HIGH = -0.05, 0.05
SEED_LIMIT = 2**64  # NumPy's SeedSequence takes any non-negative integer, torch's manual_seed only these


def validate_seed(seed: Any) -> int | None:
    """``seed`` as a Python int (NumPy integers accepted), or None; bools and values outside [0, 2**64) refused."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed must be None or an integer in [0, 2**64), got {seed!r}")
    return int(seed)


def require_bool(name: str, value: Any) -> bool:
    """``value`` if it is a real bool: the string "False" would otherwise count as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def options_dict(options: Any) -> dict[str, Any]:
    """A copy of the ``reset`` options (empty for None), refusing anything but a dict."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(f"reset options must be a dict such as {{'low': -0.1, 'high': 0.1}} or None, got {options!r}")
    return dict(options)


def reset_bounds(options: Any, params: CartPoleParams) -> tuple[float, float]:
    """The interval each state variable is drawn from at reset: the defaults, or the options' ``low``/``high``."""
    options = options_dict(options)
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


def swingup_start_options(options: Any) -> None:
    """Refuse reset options for the swing-up, whose start state is fixed (dm_control's, hanging down)."""
    options = options_dict(options)
    if options:
        raise ValueError(
            f"reset options {sorted(options)} apply to the balance task only; the swing-up always starts hanging "
            "down with dm_control's noise (0.01 x N(0, 1) on every variable)"
        )


def _bound(options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"reset option {key!r} must be a finite number, got {value!r}")
    return float(value)
