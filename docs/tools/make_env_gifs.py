"""Draw the GIFs of the environment pages: ``python docs/tools/make_env_gifs.py`` (run from the repository root).

A hand-tuned linear controller balances the pole for 150 steps, rendered with ``baselines.show``; the discrete env
pushes towards the side the controller's force points to.
"""

from __future__ import annotations

import numpy as np

import baselines

GAINS = np.array([0.1, 0.5, 10.0, 1.5], np.float32)  # x, x_dot, theta, theta_dot -> force as a fraction of 10 N


def continuous(obs: np.ndarray) -> np.ndarray:
    return np.clip([obs @ GAINS], -1.0, 1.0).astype(np.float32)


def discrete(obs: np.ndarray) -> int:
    return int(obs @ GAINS > 0)


if __name__ == "__main__":
    for env_id, policy, path in (
        ("ContinuousCartPole-v0", continuous, "docs/assets/continuous.gif"),
        ("DiscreteCartPole-v0", discrete, "docs/assets/discrete.gif"),
    ):
        animation = baselines.show(policy, env_id, seed=4, max_steps=150)
        animation.save(path)
        print(path, animation)
