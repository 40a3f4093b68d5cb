"""Continuous and discrete cart-pole environments for Gymnasium, one physics core for every backend.

Importing the package registers ``ContinuousCartPole-v0`` and ``DiscreteCartPole-v0``; it imports neither
pygame nor torch.
"""

from continuous_cartpole.env import CartPoleEnv
from continuous_cartpole.physics import CartPoleParams
from continuous_cartpole.registration import ENV_IDS, register_envs, registered_id
from continuous_cartpole.vector import CartPoleVectorEnv

__all__ = ["ENV_IDS", "CartPoleEnv", "CartPoleParams", "CartPoleVectorEnv", "registered_id"]
__version__ = "0.1.0"

register_envs()
