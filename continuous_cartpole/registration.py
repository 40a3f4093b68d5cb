"""The registered ids, and the lookup of an id in Gymnasium's ``module:EnvId`` form."""

from __future__ import annotations

import importlib

import gymnasium as gym
from gymnasium.envs.registration import register, registry

ENV_IDS = {"ContinuousCartPole-v0": True, "DiscreteCartPole-v0": False}  # id -> continuous


def register_envs() -> None:
    """Register both ids with their single and vector entry points; calling it again changes nothing."""
    for env_id, continuous in ENV_IDS.items():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point="continuous_cartpole.env:CartPoleEnv",
                vector_entry_point="continuous_cartpole.vector:CartPoleVectorEnv",
                max_episode_steps=500,
                reward_threshold=475.0,
                kwargs={"continuous": continuous},
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
