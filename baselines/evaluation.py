"""One evaluation function for every policy with SB3's ``predict(obs, deterministic=True)``, ours and SB3's."""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

import continuous_cartpole  # noqa: F401  (registers the ids)


class NonFiniteActions(FloatingPointError):
    """A policy returned NaN or infinite actions (its weights diverged, or overflow inside it)."""


class Policy(Protocol):
    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, Any]: ...


def predict_finite(policy: Policy, observation: np.ndarray) -> np.ndarray:
    """The policy's deterministic action(s) for ``observation``; ``NonFiniteActions`` names a diverged policy
    rather than leaving the env to refuse its NaN action."""
    actions = np.asarray(policy.predict(observation, deterministic=True)[0])
    if actions.dtype.kind == "f" and not np.isfinite(actions).all():
        raise NonFiniteActions("the policy returned NaN or infinite actions: its weights have diverged")
    return actions


def evaluate(
    policy: Policy, env_id: str, episodes: int = 20, seed: int = 0, env_kwargs: dict[str, Any] | None = None
) -> np.ndarray:
    """Returns of ``episodes`` deterministic episodes, run side by side in one vector env of that many sub-envs.

    Each sub-env plays exactly one episode from its seeded start; the time limit is the env spec's.
    """
    return evaluate_episodes(policy, env_id, episodes, seed, env_kwargs)[0]


def evaluate_episodes(
    policy: Policy, env_id: str, episodes: int = 20, seed: int = 0, env_kwargs: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``evaluate``'s returns (float64) and the episodes' lengths in steps (int64)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    envs = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point", **(env_kwargs or {}))
    try:
        obs, _ = envs.reset(seed=seed)
        returns = np.zeros(episodes, dtype=np.float64)
        lengths = np.zeros(episodes, dtype=np.int64)
        running = np.ones(episodes, dtype=bool)
        while running.any():
            actions = predict_finite(policy, obs).reshape(envs.action_space.shape)
            obs, rewards, terminated, truncated, _ = envs.step(actions)
            returns += np.where(running, rewards, 0.0)
            lengths += running
            running &= ~(terminated | truncated)
        return returns, lengths
    finally:
        envs.close()
