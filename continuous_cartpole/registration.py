"""The registered ids, and the lookup of an id in Gymnasium's ``module:EnvId`` form."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import register, registry


@dataclass(frozen=True)
class EnvEntry:
    """What an id registers: the env's keyword arguments, its time limit and its ``reward_threshold``; for a swing-up
    id also the reference controller's mean return that the threshold derives from (see SWINGUP_THRESHOLD_FRACTION)."""

    continuous: bool
    task: str = "balance"
    max_episode_steps: int = 500
    reward_threshold: float = 475.0
    controller_mean: float | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"continuous": self.continuous}
        if self.task != "balance":
            kwargs.update(task=self.task, tau=SWINGUP_TAU)
        return kwargs


SWINGUP_TAU = 0.01  # dm_control's time step: 1000 steps are its 10 s episode
SWINGUP_STEPS = 1000

# Each swing-up id's reward_threshold is SWINGUP_THRESHOLD_FRACTION x a reference controller's mean return on that
# id (its controller_mean below), rounded. The controller: energy pumping with cart centring (Astrom and Furuta 2000)
# until the pole is nearly upright and slow, then a linear-quadratic regulator on the linearised env step, reading
# only the observation (the discrete ids get its force by sigma-delta modulation onto their levels). Tuned on seeds
# 0-19; the means are over 100 held-out episodes (one seeded reset of the NumPy vector env at seed 1000), standard
# deviations 0.4, 15.9, 1.1 and 2.2 in the order of ENTRIES.
# Why 0.9: swinging up pays about 0.44 per step and holding about 1, so a policy that holds from step T on scores
# about 1000 - 0.56 T and clears 0.9 x 866 if it swings up within 3.9 s (the controller needs 2.4 s; the sparse
# reward pays nothing before the catch: within 3.1 s); the same controller without its catch, which swings the pole
# through the top, scores about 490 (smooth) and under 10 (sparse), so a policy that never holds cannot clear it.
SWINGUP_THRESHOLD_FRACTION = 0.9


def _swingup_entry(continuous: bool, task: str, controller_mean: float) -> EnvEntry:
    threshold = float(round(SWINGUP_THRESHOLD_FRACTION * controller_mean))
    return EnvEntry(continuous, task, SWINGUP_STEPS, threshold, controller_mean)


ENTRIES: dict[str, EnvEntry] = {
    "ContinuousCartPole-v0": EnvEntry(continuous=True),
    "DiscreteCartPole-v0": EnvEntry(continuous=False),
    "ContinuousCartPoleSwingUp-v0": _swingup_entry(True, "swingup", controller_mean=866.2),
    "DiscreteCartPoleSwingUp-v0": _swingup_entry(False, "swingup", controller_mean=828.8),
    "ContinuousCartPoleSwingUpSparse-v0": _swingup_entry(True, "swingup_sparse", controller_mean=763.5),
    "DiscreteCartPoleSwingUpSparse-v0": _swingup_entry(False, "swingup_sparse", controller_mean=764.4),
}
ENV_IDS = {env_id: entry.continuous for env_id, entry in ENTRIES.items()}  # every registered id -> continuous
BALANCE_IDS = {env_id: entry.continuous for env_id, entry in ENTRIES.items() if entry.task == "balance"}
SWINGUP_IDS = {env_id: entry.continuous for env_id, entry in ENTRIES.items() if entry.task != "balance"}


def register_envs() -> None:
    """Register every id with its single and vector entry points; calling it again changes nothing."""
    for env_id, entry in ENTRIES.items():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point="continuous_cartpole.env:CartPoleEnv",
                vector_entry_point="continuous_cartpole.vector:CartPoleVectorEnv",
                max_episode_steps=entry.max_episode_steps,
                reward_threshold=entry.reward_threshold,
                kwargs=entry.kwargs,
            )


def registered_id(env_id: str) -> str:
    """The registry id of ``env_id``, importing the module first for Gymnasium's ``"module:EnvId"`` form.

    ``gym.make`` and ``gym.make_vec`` accept that form, ``gym.spec`` does not. Unknown ids raise Gymnasium's error.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env id must be a non-empty string, got {env_id!r}")
    module, _, name = env_id.rpartition(":")
    if module:
        importlib.import_module(module)
    return gym.spec(name).id
