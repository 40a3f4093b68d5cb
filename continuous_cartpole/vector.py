"""The native NumPy vector env: N cart-poles stepped together by the shared physics core."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from continuous_cartpole.physics import CartPoleParams, has_failed, step_state
from continuous_cartpole.rendering import RENDER_FPS, CartPoleRenderer
from continuous_cartpole.reset import reset_bounds
from continuous_cartpole.spaces import action_space, observation_space

# Envs per physics block. Temporaries of 16384 float64 values stay in the L2 cache and are reused by the
# allocator; whole-batch temporaries at N = 65536 make glibc return and re-fault memory on every step (2x slower).
BLOCK = 16384


class CartPoleVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` independent cart-poles (see ``CartPoleEnv``) stepped together with NumPy. It is the
    ``vector_entry_point`` of both registered ids, so ``gym.make_vec("ContinuousCartPole-v0", num_envs=N)``
    returns it. The dynamics are the same code as the single env's, and with ``num_envs=1`` and the same seed it
    reproduces the single env bit for bit (float64 state, the default).

    ## Action Space

    ``continuous=True``: ``Box(-1, 1, (num_envs, 1), float32)``, clipped; ``continuous=False``:
    ``MultiDiscrete([2] * num_envs)``. A batch with NaN or infinite values, a wrong shape or a discrete value
    outside {0, 1} raises ``ValueError`` and leaves every sub-env unchanged.

    ## Observation Space

    ``Box`` of shape (num_envs, 4), float32: x, x_dot, theta, theta_dot, with the single env's finite bounds.

    ## Rewards

    Per sub-env: 1.0 while the pole stays up, ``failure_reward`` on the failing step, 0.0 on the reset step that
    follows the end of an episode.

    ## Starting State

    Every state variable uniform in [-0.05, 0.05] (or ``reset(options={"low": ..., "high": ...})``), drawn from the
    env's seeded ``np_random``.

    ## Episode End

    Termination as in the single env; truncation after ``max_episode_steps`` (500). Autoreset is
    ``AutoresetMode.NEXT_STEP``: the step after an episode ends returns the reset observation, reward 0.0 and both
    flags False, and ignores that sub-env's action.

    ## Arguments

    ``num_envs``, ``continuous``, ``max_episode_steps=500``, ``render_mode`` (``None`` or ``"rgb_array"``: one
    frame per sub-env), ``dtype`` of the simulated state (``np.float64``, or ``np.float32`` for about twice the
    throughput, within float32 rounding of the single env), and the physics keyword arguments of
    ``CartPoleParams``.

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import continuous_cartpole
    >>> envs = gym.make_vec("DiscreteCartPole-v0", num_envs=3)
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape
    (3, 4)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([0, 1, 1]))
    >>> reward
    array([1., 1., 1.], dtype=float32)

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": RENDER_FPS, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        continuous: bool = True,
        max_episode_steps: int = 500,
        render_mode: str | None = None,
        dtype: Any = np.float64,
        **physics: Any,
    ) -> None:
        for name, value in (("num_envs", num_envs), ("max_episode_steps", max_episode_steps)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None for a vector env, got {render_mode!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.params = CartPoleParams(**physics)
        self.num_envs = int(num_envs)
        self.continuous = bool(continuous)
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        self.dtype = np.dtype(dtype)

        self.single_action_space = action_space(self.continuous)
        self.single_observation_space = observation_space(self.params)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        self.state: np.ndarray | None = None  # (4, num_envs): one contiguous row per state variable
        self.force_fraction = np.zeros(self.num_envs, dtype=np.float32)
        self.steps = np.zeros(self.num_envs, dtype=np.int64)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        self._reset_low, self._reset_high = reset_bounds(None, self.params)
        self._renderer: CartPoleRenderer | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._reset_low, self._reset_high = reset_bounds(options, self.params)
        self.state = self._draw_states(self.num_envs)
        self.force_fraction[:] = 0.0
        self.steps[:] = 0
        self.prev_done[:] = False
        return self._observations(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        fraction = self._force_fractions(actions)
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        params, state = self.params, self.state
        force = fraction * params.force_mag
        for start in range(0, self.num_envs, BLOCK):
            block = slice(start, start + BLOCK)
            np.stack(step_state(params, tuple(state[:, block]), force[block], np), out=state[:, block])
        self.force_fraction[:] = fraction

        terminated = has_failed(params, state[0], state[2])
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        reward = np.where(terminated, np.float32(params.failure_reward), np.float32(1.0))

        done_before = np.flatnonzero(self.prev_done)
        if done_before.size:  # NEXT_STEP autoreset: these sub-envs start a new episode now
            state[:, done_before] = self._draw_states(done_before.size)
            self.steps[done_before] = 0
            self.force_fraction[done_before] = 0.0
            reward[done_before] = 0.0
            terminated[done_before] = False
            truncated[done_before] = False
        self.prev_done = terminated | truncated
        return self._observations(), reward, terminated, truncated, {}

    def _force_fractions(self, actions: Any) -> np.ndarray:
        """Validate a batch of actions and return force / force_mag per sub-env, shape (num_envs,)."""
        actions = np.asarray(actions)
        if actions.dtype.kind not in "fiu":
            raise TypeError(f"actions must be numeric, got dtype {actions.dtype}")
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        if self.continuous:
            finite = np.isfinite(actions[:, 0])
            if not finite.all():
                bad = np.flatnonzero(~finite)
                raise ValueError(f"actions must be finite; sub-envs {bad[:10].tolist()} got {actions[bad[:10], 0]}")
            return np.clip(actions[:, 0], -1.0, 1.0, dtype=self.dtype)
        if actions.dtype.kind not in "iu":
            raise TypeError(f"discrete actions must be integers (0 or 1), got dtype {actions.dtype}")
        push_right = actions == 1
        if np.count_nonzero(push_right) + np.count_nonzero(actions == 0) != self.num_envs:
            bad = np.flatnonzero((actions != 0) & ~push_right)
            raise ValueError(f"discrete actions must be 0 or 1; sub-envs {bad[:10].tolist()} got {actions[bad[:10]]}")
        return np.where(push_right, self.dtype.type(1.0), self.dtype.type(-1.0))

    def _draw_states(self, count: int) -> np.ndarray:
        # drawn as (count, 4) so that sub-env i uses the same random numbers a single env would
        draws = self.np_random.uniform(low=self._reset_low, high=self._reset_high, size=(count, 4))
        return draws.T.astype(self.dtype)

    def _observations(self) -> np.ndarray:
        assert self.state is not None
        return self.state.T.astype(np.float32, order="C")

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn('render() needs render_mode="rgb_array": gym.make_vec(..., render_mode="rgb_array")')
            return None
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        if self._renderer is None:
            self._renderer = CartPoleRenderer(self.render_mode, self.params.x_threshold, self.params.length)
        frames = []
        for x, theta, fraction in zip(self.state[0], self.state[2], self.force_fraction, strict=True):
            self._renderer.draw(float(x), float(theta), float(fraction) if self.continuous else None)
            frames.append(self._renderer.rgb_array())
        return tuple(frames)

    def close_extras(self, **kwargs: Any) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_renderer": None}
