"""The gate every Stable-Baselines3 run passes first: Gymnasium's and SB3's environment checkers, warnings fatal.

An env that trips a checker may still train, but whatever it learns is not comparable (a float64 observation, a
NumPy reward, a non-bool flag each change what the algorithms see), so any exception or warning stops the run with
``EnvCheckError`` naming the checker and its first complaint.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import gymnasium as gym

from baselines.algorithms import CONTINUOUS, DISCRETE

GYMNASIUM_CHECK = "Gymnasium's check_env"
SB3_CHECK = "Stable-Baselines3's check_env"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # Gymnasium colours its warnings


class EnvCheckError(ValueError):
    """The env failed, or warned in, one of the checkers; the message names the checker and the env."""


def check_env_for_training(env_id: str) -> None:
    """Run Gymnasium's ``check_env`` on the raw env, then SB3's on the env as SB3 trains on it (``gym.make``).

    Render checks are skipped: training never renders, and a human window cannot open on a headless machine.
    """
    _run_check(GYMNASIUM_CHECK, env_id, _gymnasium_check)
    _run_check(SB3_CHECK, env_id, _sb3_check)


def _gymnasium_check(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id)
    try:
        check_env(env.unwrapped, skip_render_check=True)  # Gymnasium's checker warns about wrapped envs
    finally:
        env.close()


def _sb3_check(env_id: str) -> None:
    from stable_baselines3.common.env_checker import check_env

    env = gym.make(env_id)
    try:
        check_env(env, warn=True, skip_render_check=True)
    finally:
        env.close()


def _run_check(name: str, env_id: str, check: Callable[[str], None]) -> None:
    previous_level = gym.logger.min_level
    gym.logger.min_level = gym.logger.WARN  # a user's quieter logger must not hide a warning from the gate
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                check(env_id)
            except Exception as error:
                raise EnvCheckError(f"{name} failed on {env_id}: {type(error).__name__}: {_clean(error)}") from error
    finally:
        gym.logger.min_level = previous_level
    if caught:
        more = f" (and {len(caught) - 1} more warning(s))" if len(caught) > 1 else ""
        first = caught[0]
        raise EnvCheckError(f"{name} warned on {env_id}: {first.category.__name__}: {_clean(first.message)}{more}")


def _clean(message: object) -> str:
    return _ANSI_ESCAPE.sub("", str(message)).removeprefix("WARN: ").strip()


def action_kind(env_id: str) -> str:
    """``"continuous"`` for a Box action space, ``"discrete"`` for Discrete; ``ValueError`` for anything else."""
    env = gym.make(env_id)
    try:
        space = env.action_space
    finally:
        env.close()
    if isinstance(space, gym.spaces.Box):
        return CONTINUOUS
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE
    raise ValueError(f"env {env_id} has a {type(space).__name__} action space; only Box and Discrete are supported")
