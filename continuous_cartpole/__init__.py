"""Continuous and discrete cart-pole environments for Gymnasium, one physics core for every backend.

Importing the package registers ``ContinuousCartPole-v0`` and ``DiscreteCartPole-v0``; it imports neither
pygame nor torch.
"""

from gymnasium.envs.registration import register, registry

from continuous_cartpole.env import CartPoleEnv
from continuous_cartpole.physics import CartPoleParams
from continuous_cartpole.vector import CartPoleVectorEnv

__all__ = ["ENV_IDS", "CartPoleEnv", "CartPoleParams", "CartPoleVectorEnv"]
__version__ = "0.1.0"

ENV_IDS = {"ContinuousCartPole-v0": True, "DiscreteCartPole-v0": False}  # id -> continuous

for _env_id, _continuous in ENV_IDS.items():
    if _env_id not in registry:  # importlib.reload must not register twice
        register(
            id=_env_id,
            entry_point="continuous_cartpole.env:CartPoleEnv",
            vector_entry_point="continuous_cartpole.vector:CartPoleVectorEnv",
            max_episode_steps=500,
            reward_threshold=475.0,
            kwargs={"continuous": _continuous},
        )
