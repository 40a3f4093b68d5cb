"""The action and observation spaces of one cart-pole, shared by the single, NumPy vector and torch envs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from gymnasium import spaces

from continuous_cartpole.physics import CartPoleParams
from continuous_cartpole.tasks import Task, observation_high

BALANCE = Task()


def action_space(continuous: bool, task: Task = BALANCE) -> spaces.Space:
    """``Box(-1, 1, (1,), float32)`` (force = action x force_mag) or ``Discrete(task.discrete_actions)``: 0 pushes
    left and the last action right; the swing-up's middle action 1 pushes with no force."""
    return spaces.Box(-1.0, 1.0, (1,), np.float32) if continuous else spaces.Discrete(task.discrete_actions)


def observation_space(
    params: CartPoleParams, task: Task = BALANCE, ranges: Mapping[str, tuple[float, float]] | None = None
) -> spaces.Box:
    """float32 observations within the task's ``observation_high`` (over the randomized ``ranges``), finite and
    symmetric."""
    high = np.array(observation_high(task, params, ranges), dtype=np.float32)
    return spaces.Box(-high, high, dtype=np.float32)
