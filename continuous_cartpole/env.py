"""The single cart-pole environment, with a continuous or a discrete action space."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np

from continuous_cartpole.actions import continuous_force_fraction, discrete_force_sign
from continuous_cartpole.physics import CartPoleParams, is_nonfinite, is_within_bounds, step_state
from continuous_cartpole.randomization import Randomization
from continuous_cartpole.rendering import RENDER_FPS, CartPoleRenderer
from continuous_cartpole.reset import require_bool, reset_bounds, validate_seed
from continuous_cartpole.spaces import action_space, observation_space


class CartPoleEnv(gym.Env[np.ndarray, Any]):
    """
    ## Description

    The cart-pole of Barto, Sutton and Anderson, "Neuronlike Adaptive Elements That Can Solve Difficult Learning
    Control Problems" (1983), as Gymnasium's ``CartPole`` computes it: a pole is hinged on a cart that moves on a
    frictionless track, and the goal is to keep it upright by pushing the cart left or right.

    Registered as ``ContinuousCartPole-v0`` (``continuous=True``) and ``DiscreteCartPole-v0``
    (``continuous=False``), both with a 500-step time limit and a reward threshold of 475.

    ## Action Space

    - ``continuous=True``: ``Box(-1.0, 1.0, (1,), float32)``; the force on the cart is ``action * force_mag``.
      Out-of-range actions are clipped to the bounds. A scalar is accepted too.
    - ``continuous=False``: ``Discrete(2)``; 0 pushes left with ``force_mag`` and 1 pushes right.

    NaN or infinite actions, wrong shapes, non-numeric values and discrete values outside {0, 1} raise an error
    naming the problem, and leave the environment unchanged.

    ## Observation Space

    ``Box`` of shape (4,), float32:

    | Num | Observation           | Bound                              |
    |-----|-----------------------|------------------------------------|
    | 0   | Cart position (m)     | +- 2 * x_threshold (4.8)           |
    | 1   | Cart velocity (m/s)   | +- 4 * x_threshold / tau (480)     |
    | 2   | Pole angle (rad)      | +- 2 * theta_threshold (~0.698)    |
    | 3   | Pole angular velocity | +- 4 * theta_threshold / tau (~70) |

    The bounds are finite and hold every observation of an episode, the terminal one included.

    ## Rewards

    1.0 for every step the pole stays up; the step on which the episode fails pays ``failure_reward`` (0.0 by
    default, 1.0 in Gymnasium's CartPole). Stepping past the end of an episode pays 0.0 and warns.

    ## Starting State

    Every state variable is drawn uniformly from [-0.05, 0.05] with the environment's seeded ``np_random``;
    ``reset(options={"low": ..., "high": ...})`` changes the interval.

    ## Episode End

    1. Termination: the pole angle leaves +- ``theta_threshold_radians`` (20 degrees by default).
    2. Termination: the cart position leaves +- ``x_threshold`` (2.4): the cart reached the end of the track.
    3. Truncation: 500 steps (the registered ``max_episode_steps``).

    ## Arguments

    ``continuous`` (bool), ``render_mode`` (``None``, ``"human"`` or ``"rgb_array"``) and the physics:
    ``gravity=9.8, masscart=1.0, masspole=0.1, length=0.5`` (half the pole), ``force_mag=10.0, tau=0.02,
    theta_threshold_radians=20 degrees, x_threshold=2.4, kinematics_integrator="euler"`` (or
    ``"semi-implicit euler"``), ``failure_reward=0.0``. All are validated: a value outside its range (see
    ``CartPoleParams``) or an unknown keyword raises a ``ValueError`` naming it.
    ``randomize={"length": (0.25, 1.0), ...}`` draws those parameters anew at every reset from the env's seeded
    ``np_random`` (see ``continuous_cartpole.randomization``); ``env.unwrapped.params`` holds the values in force
    and the observation space holds the observations of every draw.
    With ``theta_threshold_radians=12 degrees`` and ``failure_reward=1.0``, ``DiscreteCartPole-v0`` reproduces
    Gymnasium's ``CartPole-v1`` step for step.

    >>> import gymnasium as gym
    >>> import continuous_cartpole
    >>> env = gym.make("ContinuousCartPole-v0")
    >>> obs, info = env.reset(seed=42)
    >>> obs.shape, obs.dtype
    ((4,), dtype('float32'))
    >>> obs, reward, terminated, truncated, info = env.step(np.array([0.5], dtype=np.float32))
    >>> reward, terminated, truncated
    (1.0, False, False)
    >>> gym.make("DiscreteCartPole-v0").action_space
    Discrete(2)

    ## Version History

    - v0: initial release; Gymnasium's CartPole-v1 physics, 20 degree failure angle, failure step pays 0.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": RENDER_FPS}

    def __init__(
        self, continuous: bool = True, render_mode: str | None = None, randomize: Any = None, **physics: Any
    ) -> None:
        self.randomize = Randomization.of(randomize)
        if self.randomize:
            self.randomize.check_not_set(physics)
        self.params = CartPoleParams.from_keywords(physics)
        if self.params.is_batched:
            raise ValueError(
                "CartPoleEnv takes one value per parameter; for one value per sub-env use "
                "gym.make_vec(..., num_envs=N) with arrays of shape (N,)"
            )
        bounding = self.randomize.bounding(self.params) if self.randomize else self.params
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.continuous = require_bool("continuous", continuous)
        self._force_fraction = continuous_force_fraction if self.continuous else discrete_force_sign
        self.render_mode = render_mode
        self.action_space = action_space(self.continuous)
        self.observation_space = observation_space(bounding)  # holds the observations of every draw
        self._bounding = bounding

        self.state: tuple[float, float, float, float] | None = None
        self.force_fraction = 0.0  # last applied force / force_mag, for the arrow
        self._failed = False
        self._nonfinite = False
        self._warned_after_failure = False
        self._renderer: CartPoleRenderer | None = None

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        fraction = self._force_fraction(action)
        state = self.state
        if state is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if self._nonfinite:  # math.cos(inf) would raise a bare "math domain error"
            raise ValueError("the cart-pole state is NaN or infinite, so it cannot be stepped; call reset()")
        params = self.params
        self.state = state = step_state(params, state, fraction * params.force_mag, math)
        self.force_fraction = fraction
        if is_within_bounds(params, state[0], state[2]):  # a NaN or infinite state is outside (see there)
            terminated, reward = False, 1.0
        else:
            terminated, reward = True, self._terminal_reward(state)
        if self.render_mode == "human":
            self.render()
        # dtype passed by position: NumPy parses it about twice as fast as the keyword
        return np.array(state, np.float32), reward, terminated, False, {}

    def _terminal_reward(self, state: tuple[float, float, float, float]) -> float:
        """The reward of a step outside the bounds: ``failure_reward`` once, then 0.0 with a warning."""
        if is_nonfinite(*state):
            self._nonfinite = True
            gym.logger.warn("The cart-pole state became NaN or infinite; the episode terminates.")
        if not self._failed:
            self._failed = True
            return self.params.failure_reward
        if not self._warned_after_failure:
            self._warned_after_failure = True
            gym.logger.warn("step() called after the episode terminated; call reset(). Such steps pay 0.0.")
        return 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        seed = validate_seed(seed)
        low, high = reset_bounds(options, self._bounding)  # checked before seeding: a refused reset changes nothing
        super().reset(seed=seed)
        self.state = tuple(self.np_random.uniform(low=low, high=high, size=(4,)).tolist())
        if self.randomize:  # this episode's physics, drawn after the start state (as the vector envs do)
            drawn = self.randomize.draw(self.np_random, 1)[:, 0]
            self.params = replace(self.params, **dict(zip(self.randomize.names, drawn.tolist(), strict=True)))
            if self._renderer is not None:
                self._renderer.set_geometry(self.params.x_threshold, self.params.length)
        self.force_fraction = 0.0
        self._failed = False
        self._nonfinite = False
        self._warned_after_failure = False
        if self.render_mode == "human":
            self.render()
        return np.array(self.state, np.float32), {}

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn('render() needs a render mode: gym.make("ContinuousCartPole-v0", render_mode="rgb_array")')
            return None
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        if self._renderer is None:
            self._renderer = CartPoleRenderer(self.render_mode, self.params.x_threshold, self.params.length)
        arrow = self.force_fraction if self.continuous else None
        self._renderer.draw(self.state[0], self.state[2], arrow)
        if self.render_mode == "human":
            self._renderer.show()
            return None
        return self._renderer.rgb_array()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        # pygame surfaces and windows do not pickle; a copy draws its own on its first render
        return {**self.__dict__, "_renderer": None}
