"""The single cart-pole environment, with a continuous or a discrete action space."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np

from continuous_cartpole.actions import continuous_force_fraction, discrete_force_level, discrete_force_sign
from continuous_cartpole.physics import CartPoleParams, is_nonfinite, is_within_bounds, step_state
from continuous_cartpole.randomization import randomization_for
from continuous_cartpole.rendering import RENDER_FPS, CartPoleRenderer
from continuous_cartpole.reset import require_bool, reset_bounds, swingup_start_options, validate_seed
from continuous_cartpole.spaces import action_space, observation_space
from continuous_cartpole.tasks import (
    SWINGUP_START_ANGLE,
    SWINGUP_START_CLIP,
    SWINGUP_START_NOISE,
    Task,
    has_ended,
    observation_rows,
    swingup_reward,
)


class CartPoleEnv(gym.Env[np.ndarray, Any]):
    """
    ## Description

    The cart-pole of Barto, Sutton and Anderson, "Neuronlike Adaptive Elements That Can Solve Difficult Learning
    Control Problems" (1983), as Gymnasium's ``CartPole`` computes it: a pole is hinged on a cart that moves on a
    frictionless track, pushed left or right. Two tasks share these physics (``task=``):

    - ``"balance"`` (default): keep the pole upright from a start near upright. Registered as
      ``ContinuousCartPole-v0`` (``continuous=True``) and ``DiscreteCartPole-v0`` (``continuous=False``), 500
      steps, reward threshold 475.
    - ``"swingup"`` / ``"swingup_sparse"``: dm_control's ``cartpole`` swing-up (Tassa et al. 2018). The pole starts
      hanging down; the controller must pump energy into it, catch it upright and hold it there without running the
      cart off the track. Registered as ``ContinuousCartPoleSwingUp-v0``, ``DiscreteCartPoleSwingUp-v0`` and their
      sparse-reward forms ``ContinuousCartPoleSwingUpSparse-v0``, ``DiscreteCartPoleSwingUpSparse-v0``: tau 0.01 s
      and 1000 steps (dm_control's 10 s), reward thresholds 780 / 746 (smooth, continuous / discrete) and 687 / 688
      (sparse): 0.9 x a reference controller's mean return.

    ## Action Space

    - ``continuous=True``: ``Box(-1.0, 1.0, (1,), float32)``; the force on the cart is ``action * force_mag``.
      Out-of-range actions are clipped to the bounds. A scalar is accepted too.
    - ``continuous=False``, balance: ``Discrete(2)``; 0 pushes left with ``force_mag`` and 1 pushes right.
    - ``continuous=False``, swing-up: ``Discrete(3)``; 0 pushes left, 1 applies no force, 2 pushes right. The
      smooth reward pays ``small_control`` = 0.8 for a full push, so with pushes only a discrete agent could never
      earn what a continuous one does while holding the pole still.

    NaN or infinite actions, wrong shapes, non-numeric values and discrete values outside the space raise an error
    naming the problem, and leave the environment unchanged.

    ## Observation Space

    ``Box`` of float32. Balance, shape (4,):

    | Num | Observation           | Bound                              |
    |-----|-----------------------|------------------------------------|
    | 0   | Cart position (m)     | +- 2 * x_threshold (4.8)           |
    | 1   | Cart velocity (m/s)   | +- 4 * x_threshold / tau (480)     |
    | 2   | Pole angle (rad)      | +- 2 * theta_threshold (~0.698)    |
    | 3   | Pole angular velocity | +- 4 * theta_threshold / tau (~70) |

    Swing-up, shape (5,), the angle as its cosine and sine (continuous through full turns, as dm_control's):

    | Num | Observation             | Bound at the registered defaults |
    |-----|-------------------------|----------------------------------|
    | 0   | Cart position (m)       | +- 7.69                          |
    | 1   | Cart velocity (m/s)     | +- 577                           |
    | 2   | cos(pole angle)         | +- 1 (1 upright)                 |
    | 3   | sin(pole angle)         | +- 1                             |
    | 4   | Pole angular velocity   | +- 387                           |

    The bounds are finite and hold every observation of an episode, the terminal one included; the swing-up's are
    proven in ``continuous_cartpole.tasks.observation_high`` for any parameters.

    ## Rewards

    Balance: 1.0 for every step the pole stays up. Swing-up: dm_control's reward of the state after the step, in
    [0, 1]. Smooth: ``upright * centered * small_control * small_velocity`` with upright = (cos + 1) / 2, centered =
    (1 + tol(x, 2)) / 2, small_control = (4 + 1 - u^2) / 5 for the force fraction u, small_velocity =
    (1 + tol(angle_dot, 5)) / 2 and tol(d, margin) = 0.1 ** ((d / margin) ** 2). Sparse: 1.0 while |x| <= 0.25 and
    cos(angle) >= 0.995, else 0.0. In every task the step that terminates the episode pays ``failure_reward`` (0.0
    by default, 1.0 in Gymnasium's CartPole), and stepping past the end of an episode pays 0.0 and warns.

    ## Starting State

    Balance: every state variable uniform in [-0.05, 0.05] from the environment's seeded ``np_random``;
    ``reset(options={"low": ..., "high": ...})`` changes the interval. Swing-up: dm_control's, hanging down: the
    angle pi + 0.01 N(0, 1) and x, x_dot, angle_dot 0.01 N(0, 1) each (clipped at 10 standard deviations, which no
    draw reaches in practice); it takes no reset options.

    ## Episode End

    1. Termination: the cart position leaves +- ``x_threshold`` (2.4): the cart reached the end of the track.
    2. Termination, balance: the pole angle leaves +- ``theta_threshold_radians`` (20 degrees by default).
    3. Termination, swing-up: never on the angle; only when the pole spins faster than pi / tau (half a turn per
       step, 314 rad/s at tau 0.01, where the sampled cos/sin alias), which no policy reaches in 1000 steps at the
       defaults and which keeps the observation bounds finite.
    4. Termination: the state became NaN or infinite (only from states set by hand), with a warning.
    5. Truncation: the registered ``max_episode_steps`` (500 balance, 1000 swing-up).

    ## Arguments

    ``continuous`` (bool), ``task`` (``"balance"``, ``"swingup"`` or ``"swingup_sparse"``), ``render_mode``
    (``None``, ``"human"`` or ``"rgb_array"``; the swing-up frame shows the pole's whole circle) and the physics:
    ``gravity=9.8, masscart=1.0, masspole=0.1, length=0.5`` (half the pole), ``force_mag=10.0, tau=0.02`` (0.01
    in the swing-up ids), ``theta_threshold_radians=20 degrees`` (balance only), ``x_threshold=2.4,
    kinematics_integrator="euler"`` (or ``"semi-implicit euler"``), ``failure_reward=0.0``. All are validated: a
    value outside its range (see ``CartPoleParams``) raises a ``ValueError`` naming it, an unknown keyword a
    ``TypeError`` in Python's wording ("got an unexpected keyword argument ...") with the valid names.
    ``randomize={"length": (0.25, 1.0), ...}`` (every task) draws those parameters anew at every reset from the env's
    seeded ``np_random`` (see ``continuous_cartpole.randomization``); ``env.unwrapped.params`` holds the values in
    force and the observation space holds the observations of every draw.
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
    >>> env = gym.make("ContinuousCartPoleSwingUp-v0")
    >>> obs, info = env.reset(seed=42)
    >>> obs.shape, bool(obs[2] < -0.99)  # (x, x_dot, cos, sin, angle_dot), hanging down
    ((5,), True)
    >>> obs, reward, terminated, truncated, info = env.step(np.array([1.0], dtype=np.float32))
    >>> 0.0 <= reward < 0.01, terminated, env.spec.max_episode_steps
    (True, False, 1000)
    >>> gym.make("DiscreteCartPoleSwingUpSparse-v0").action_space
    Discrete(3)

    ## Version History

    - v0: initial release; Gymnasium's CartPole-v1 physics, 20 degree failure angle, failure step pays 0; the
      swing-up tasks on the same physics.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": RENDER_FPS}

    def __init__(
        self,
        continuous: bool = True,
        render_mode: str | None = None,
        task: str = "balance",
        randomize: Any = None,
        **physics: Any,
    ) -> None:
        self.params = CartPoleParams.from_keywords(physics)
        if self.params.is_batched:
            raise ValueError(
                "CartPoleEnv takes one value per parameter; for one value per sub-env use "
                "gym.make_vec(..., num_envs=N) with arrays of shape (N,)"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.continuous = require_bool("continuous", continuous)
        self.task = Task(task)
        discrete_force = discrete_force_level if self.task.swingup else discrete_force_sign
        self._force_fraction = continuous_force_fraction if self.continuous else discrete_force
        self.render_mode = render_mode
        # real time: one frame per step (50 fps at the balance default tau 0.02, 100 at the swing-up's 0.01)
        self.metadata = {**self.metadata, "render_fps": max(1, round(1 / self.params.tau))}
        self.action_space = action_space(self.continuous, self.task)
        self.randomize = randomization_for(randomize, physics)
        self._bounding = self.randomize.bounding(self.params) if self.randomize else self.params
        self.observation_space = observation_space(
            self._bounding, self.task, self.randomize.limits if self.randomize else None
        )  # holds the observations of every draw

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
        if self.task.swingup:
            return self._swingup_outcome(state, fraction)
        if is_within_bounds(params, state[0], state[2]):  # a NaN or infinite state is outside (see there)
            terminated, reward = False, 1.0
        else:
            terminated, reward = True, self._terminal_reward(state)
        if self.render_mode == "human":
            self.render()
        # dtype passed by position: NumPy parses it about twice as fast as the keyword
        return np.array(state, np.float32), reward, terminated, False, {}

    def _swingup_outcome(
        self, state: tuple[float, float, float, float], fraction: float
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if is_nonfinite(*state):  # math.cos(inf) would raise a bare "math domain error"
            rows: tuple[float, ...] = (state[0], state[1], math.nan, math.nan, state[3])
            terminated, reward = True, self._terminal_reward(state)
        elif has_ended(self.task, self.params, state):
            rows = observation_rows(self.task, state, math)
            terminated, reward = True, self._terminal_reward(state)
        else:
            rows = observation_rows(self.task, state, math)
            terminated, reward = False, float(swingup_reward(self.task, rows, fraction, math))
        if self.render_mode == "human":
            self.render()
        return np.array(rows, np.float32), reward, terminated, False, {}

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
        # options are checked before seeding: a refused reset changes nothing
        if self.task.swingup:
            swingup_start_options(options)
            super().reset(seed=seed)
            noise = self.np_random.normal(size=(4,)).clip(-SWINGUP_START_CLIP, SWINGUP_START_CLIP)
            x, x_dot, theta, theta_dot = (noise * SWINGUP_START_NOISE).tolist()
            self.state = (x, x_dot, theta + SWINGUP_START_ANGLE, theta_dot)
        else:
            low, high = reset_bounds(options, self._bounding)
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
        return np.array(observation_rows(self.task, self.state, math), np.float32), {}

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn('render() needs a render mode: gym.make("ContinuousCartPole-v0", render_mode="rgb_array")')
            return None
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        if self._renderer is None:
            self._renderer = CartPoleRenderer(
                self.render_mode,
                self.params.x_threshold,
                self.params.length,
                fps=self.metadata["render_fps"],
                whole_circle=self.task.swingup,
            )
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
