"""Turning the actions users pass into forces on the cart, with errors that name what is wrong."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_NUMERIC_KINDS = "fiu"
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)


def continuous_force_fraction(action: Any) -> float:
    """The force as a fraction of ``force_mag`` for one continuous action: a scalar or an array of shape (1,).

    Out-of-range values are clipped to [-1, 1], so they act exactly like the bound (Gymnasium's rule).
    """
    # The usual case first, with nothing to convert: a native float32 or float64 array of shape (1,) holding a value
    # in range (NaN fails the comparison). Identity tests of the cached dtypes are the cheapest checks there are.
    if type(action) is np.ndarray and (action.dtype is _FLOAT32 or action.dtype is _FLOAT64) and action.shape == (1,):
        value = action.item()
        if -1.0 <= value <= 1.0:
            return value
    return _checked_force_fraction(action)


def _checked_force_fraction(action: Any) -> float:
    """Every other action: converted, validated and clipped."""
    if not isinstance(action, np.ndarray) and isinstance(action, (list, tuple)):
        action = np.asarray(action)
    if isinstance(action, np.ndarray):
        if action.shape not in ((1,), ()):
            raise ValueError(f"continuous action must have shape (1,), got shape {action.shape}")
        if action.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"continuous action must be a real number, got dtype {action.dtype}")
        value = float(action.item())
    elif isinstance(action, (float, int, np.floating, np.integer)) and not isinstance(action, (bool, np.bool_)):
        value = _as_float(action)
    else:
        raise TypeError(f"continuous action must be a float array of shape (1,) or a number, got {action!r}")
    if not math.isfinite(value):
        raise ValueError(f"continuous action must be finite, got {value}")
    return -1.0 if value < -1.0 else 1.0 if value > 1.0 else value  # a sixth of min(max(...))'s time


def _as_float(action: float | int | np.floating | np.integer) -> float:
    try:
        return float(action)
    except OverflowError:  # a Python int beyond float range
        bits = int(action).bit_length()
        message = f"continuous action is a {bits}-bit integer, too large for a float; pass a value in [-1, 1]"
        raise ValueError(message) from None


def discrete_force_sign(action: Any) -> float:
    """+1.0 (push right) for action 1, -1.0 (push left) for action 0."""
    if type(action) is int:  # the usual case (a bool is refused below: its type is not int)
        if action == 1:
            return 1.0
        if action == 0:
            return -1.0
    if isinstance(action, np.ndarray):
        if action.shape != () or action.dtype.kind not in "iu":
            raise TypeError(
                f"discrete action must be an integer scalar, got an array of shape {action.shape} "
                f"and dtype {action.dtype}"
            )
        action = action.item()
    elif not isinstance(action, (int, np.integer)) or isinstance(action, (bool, np.bool_)):
        raise TypeError(f"discrete action must be an integer (0 or 1), got {action!r}")
    if action == 1:
        return 1.0
    if action == 0:
        return -1.0
    raise ValueError(f"discrete action must be 0 (push left) or 1 (push right), got {action}")


def discrete_force_level(action: Any) -> float:
    """-1.0 (push left), 0.0 (no force) or +1.0 (push right) for the swing-up's actions 0, 1 and 2."""
    if type(action) is not int:  # the usual case is a plain int; everything else goes through the same checks
        if isinstance(action, np.ndarray):
            if action.shape != () or action.dtype.kind not in "iu":
                raise TypeError(
                    f"discrete action must be an integer scalar, got an array of shape {action.shape} "
                    f"and dtype {action.dtype}"
                )
            action = action.item()
        elif not isinstance(action, (int, np.integer)) or isinstance(action, (bool, np.bool_)):
            raise TypeError(f"discrete action must be an integer (0, 1 or 2), got {action!r}")
    if action == 0 or action == 1 or action == 2:
        return float(action - 1)
    raise ValueError(f"discrete action must be 0 (push left), 1 (no force) or 2 (push right), got {action}")
