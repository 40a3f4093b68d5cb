"""The gate every Stable-Baselines3 run passes first: Gymnasium's and SB3's environment checkers, warnings fatal.

An env that trips a checker may still train, but whatever it learns is not comparable (a float64 observation, a
NumPy reward, a non-bool flag each change what the algorithms see), so any exception or warning stops the run with
``EnvCheckError`` naming the checker and its first complaint. Gymnasium's own registered envs are the reference
the checkers' advice is measured against (``CartPole-v1``'s infinite observation bounds, ``Pendulum-v1``'s
[-2, 2] actions): for them a warning is printed and training goes on; only an exception stops it.
"""

from __future__ import annotations

import re
import sys
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
    for name, check in ((GYMNASIUM_CHECK, _gymnasium_check), (SB3_CHECK, _sb3_check)):
        complaints = _run_check(name, env_id, check)
        if complaints and not is_gymnasium_env(env_id):
            more = f" (and {len(complaints) - 1} more warning(s))" if len(complaints) > 1 else ""
            raise EnvCheckError(f"{name} warned on {env_id}: {complaints[0]}{more}")
        for complaint in complaints:
            print(f"warning: {name} on Gymnasium's {env_id}, trained anyway: {complaint}", file=sys.stderr)


def is_gymnasium_env(env_id: str) -> bool:
    """Whether ``env_id`` is one of Gymnasium's own registered envs (by where its class lives)."""
    entry_point = gym.spec(env_id).entry_point
    module = entry_point.partition(":")[0] if isinstance(entry_point, str) else getattr(entry_point, "__module__", "")
    return module.split(".")[0] == "gymnasium"


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


def _run_check(name: str, env_id: str, check: Callable[[str], None]) -> list[str]:
    """The checker's warnings, as lines; an exception it raises becomes ``EnvCheckError``."""
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
    return [f"{warning.category.__name__}: {_clean(warning.message)}" for warning in caught]


def _clean(message: object) -> str:
    return _ANSI_ESCAPE.sub("", str(message)).removeprefix("WARN: ").strip()


def action_kind(env_id: str) -> str:
    """``"continuous"`` for a Box action space, ``"discrete"`` for Discrete; ``ValueError`` for anything else."""
    env = gym.make(env_id)
    try:
        space = env.action_space
    finally:
        env.close()
    return action_kind_of(env_id, space)


def action_kind_of(env_id: str, space: gym.Space) -> str:
    """``action_kind`` for the env's action ``space``."""
    if isinstance(space, gym.spaces.Box):
        return CONTINUOUS
    if isinstance(space, gym.spaces.Discrete):
        return DISCRETE
    raise ValueError(f"env {env_id} has a {type(space).__name__} action space; only Box and Discrete are supported")


def env_task(env_id: str) -> str:
    """The id's task, from the ``task`` keyword it is registered with: "balance" (also for ids without one),
    "swingup" or "swingup_sparse". Picks the task's hyperparameters and budgets."""
    return str(gym.spec(env_id).kwargs.get("task", "balance"))
