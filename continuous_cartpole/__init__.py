"""Continuous and discrete cart-pole environments for Gymnasium, one physics core for every backend.

Importing the package registers the balance ids ``ContinuousCartPole-v0`` and ``DiscreteCartPole-v0`` and the
swing-up ids ``ContinuousCartPoleSwingUp-v0``, ``DiscreteCartPoleSwingUp-v0`` and their ``...SwingUpSparse-v0``
forms (``ENV_IDS``: every id; ``BALANCE_IDS``, ``SWINGUP_IDS``); it imports neither pygame nor torch.
"""

from continuous_cartpole.env import CartPoleEnv
from continuous_cartpole.physics import CartPoleParams
from continuous_cartpole.registration import BALANCE_IDS, ENV_IDS, SWINGUP_IDS, register_envs, registered_id
from continuous_cartpole.vector import CartPoleVectorEnv

__all__ = [
    "BALANCE_IDS",
    "ENV_IDS",
    "SWINGUP_IDS",
    "CartPoleEnv",
    "CartPoleParams",
    "CartPoleVectorEnv",
    "registered_id",
]
__version__ = "0.1.0"

register_envs()
