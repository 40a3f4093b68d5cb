"""The action and observation spaces of one cart-pole, shared by the single, NumPy vector and torch envs."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from continuous_cartpole.physics import CartPoleParams


def action_space(continuous: bool) -> spaces.Space:
    """``Box(-1, 1, (1,), float32)`` (force = action x force_mag) or ``Discrete(2)`` (0 left, 1 right)."""
    return spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(2)


def observation_space(params: CartPoleParams) -> spaces.Box:
    """float32 (x, x_dot, theta, theta_dot) within ``params.observation_high``, finite and symmetric."""
    high = np.array(params.observation_high, dtype=np.float32)
    return spaces.Box(-high, high, dtype=np.float32)
