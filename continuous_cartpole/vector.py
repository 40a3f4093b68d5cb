"""The native NumPy vector env: N cart-poles stepped together by the shared physics core."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from continuous_cartpole.arguments import MAX_EPISODE_STEPS, MAX_NUM_ENVS, positive_int
from continuous_cartpole.physics import NUMERIC_FIELDS, ArrayConstants, CartPoleParams, is_nonfinite, step_state
from continuous_cartpole.randomization import DrawnValues, Randomization, randomization_for
from continuous_cartpole.rendering import RENDER_FPS, CartPoleRenderer
from continuous_cartpole.reset import options_dict, require_bool, reset_bounds, swingup_start_options, validate_seed
from continuous_cartpole.spaces import action_space, observation_space
from continuous_cartpole.tasks import (
    SWINGUP_START_ANGLE,
    SWINGUP_START_CLIP,
    SWINGUP_START_NOISE,
    Task,
    has_ended,
    observation_rows,
    spin_limit,
    swingup_reward,
)

# Envs per physics block. Temporaries of 16384 float64 values stay in the L2 cache and are reused by the
# allocator; whole-batch temporaries at N = 65536 make glibc return and re-fault memory on every step (2x slower).
BLOCK = 16384


class CartPoleVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` independent cart-poles (see ``CartPoleEnv``) stepped together with NumPy, on the balance task or
    the swing-up (``task=``). It is the ``vector_entry_point`` of every registered id, so
    ``gym.make_vec("ContinuousCartPole-v0", num_envs=N)`` returns it. The dynamics are the same code as the single
    env's, and with ``num_envs=1``, the same seed and ``dtype=np.float64`` it reproduces the single env bit for bit
    (rewards rounded to float32).

    ## Action Space

    ``continuous=True``: ``Box(-1, 1, (num_envs, 1), float32)``, clipped; ``continuous=False``:
    ``MultiDiscrete([2] * num_envs)`` (balance) or ``MultiDiscrete([3] * num_envs)`` (swing-up: left, none,
    right). A batch with NaN or infinite values, a wrong shape or a discrete value outside the space raises
    ``ValueError`` and leaves every sub-env unchanged.

    ## Observation Space

    ``Box`` of shape (num_envs, 4), float32: x, x_dot, theta, theta_dot (balance); (num_envs, 5): x, x_dot,
    cos theta, sin theta, theta_dot (swing-up); with the single env's finite bounds.

    ## Rewards

    Per sub-env, float32: the task's reward (balance 1.0 while the pole stays up; swing-up dm_control's, see
    ``CartPoleEnv``), ``failure_reward`` on the failing step, 0.0 on the reset step that follows the end of an
    episode (``NEXT_STEP``) and on failing steps past a failure (``DISABLED``, as in the single env).

    ## Starting State

    Balance: every state variable uniform in [-0.05, 0.05] (or ``reset(options={"low": ..., "high": ...})``);
    swing-up: hanging down, as the single env. Drawn from the env's seeded ``np_random``: sub-env i of a fresh reset
    gets the random numbers a single env would draw.

    ## Episode End

    Termination as in the single env (a NaN or infinite state terminates too, with a warning); truncation after
    ``max_episode_steps`` (the spec's: 500 balance, 1000 swing-up). ``autoreset_mode`` chooses what follows the end
    of an episode, as Gymnasium's ``SyncVectorEnv`` does it:

    - ``AutoresetMode.NEXT_STEP`` (default): the next step returns the reset observation, reward 0.0 and both flags
      False, and ignores that sub-env's action.
    - ``AutoresetMode.SAME_STEP``: the step that ends the episode returns the reset observation already; the last
      observation is in ``info["final_obs"]`` (an object array, ``None`` for the other sub-envs) with the mask
      ``info["_final_obs"]``, and ``info["final_info"]`` / ``info["_final_info"]`` beside them.
    - ``AutoresetMode.DISABLED``: nothing restarts by itself; ``reset(options={"reset_mask": mask})`` restarts the
      sub-envs where the bool mask of shape (num_envs,) is True and leaves the others as they are. Stepping a
      sub-env whose episode ended without that reset warns once, as Gymnasium's single env does.

    ## Arguments

    ``num_envs``, ``continuous`` (a bool), ``task`` (``"balance"``, ``"swingup"``, ``"swingup_sparse"``; fixed for
    the env's lifetime), ``max_episode_steps=500``, ``render_mode`` (``None`` or
    ``"rgb_array"``: one frame per sub-env), ``dtype`` of the simulated state: ``np.float32`` (default, 2-3x the
    throughput of float64, within float32 rounding of the single env) or ``np.float64`` (bit for bit the single
    env's results), ``autoreset_mode`` (an ``AutoresetMode`` or its string value, such as ``"SameStep"``) and the
    physics keyword arguments of ``CartPoleParams``. ``call``, ``get_attr`` and ``set_attr`` work as in
    ``SyncVectorEnv``: ``call("render")`` gives each sub-env's frame; every other attribute is shared. ``set_attr``
    and assignments validate as the constructor does; ``num_envs`` and ``dtype`` are fixed (``num_envs`` at most
    ``2**26``, checked before anything is allocated).

    Physics as data: each physics keyword takes a number or an array of shape ``(num_envs,)``, and sub-env i steps
    with element i (with ``dtype=np.float64``, bit for bit a single env made with those values); the observation
    bounds are the widest over the sub-envs. ``randomize={"length": (0.25, 1.0), ...}`` (every task) draws those
    parameters anew at every reset of a sub-env from the env's seeded ``np_random`` (see
    ``continuous_cartpole.randomization``). ``params`` holds the values in force (arrays where the sub-envs
    differ), ``get_attr("params")`` one ``CartPoleParams`` per sub-env, and ``set_attr("params", ...)`` takes one
    (numbers or arrays) or a list of ``num_envs``.

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
    >>> gym.make_vec("ContinuousCartPole-v0", num_envs=2, autoreset_mode="SameStep").autoreset_mode
    <AutoresetMode.SAME_STEP: 'SameStep'>
    >>> envs = gym.make_vec("DiscreteCartPoleSwingUp-v0", num_envs=3)
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape, envs.single_action_space, bool((obs[:, 2] < -0.99).all())  # hanging down
    ((3, 5), Discrete(3), True)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([0, 1, 2]))
    >>> bool((reward < 0.01).all()), reward.dtype
    (True, dtype('float32'))

    ## Version History

    - v0: initial release; float32 state by default, every Gymnasium autoreset mode; the swing-up tasks;
      per-sub-env parameters and domain randomization.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": RENDER_FPS, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        continuous: bool = True,
        max_episode_steps: int = 500,
        render_mode: str | None = None,
        dtype: Any = np.float32,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        task: str = "balance",
        randomize: Any = None,
        **physics: Any,
    ) -> None:
        self._num_envs = positive_int("num_envs", num_envs, MAX_NUM_ENVS)  # checked before anything is allocated
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self._dtype = np.dtype(dtype)
        self._renderer: CartPoleRenderer | None = None
        self._task = Task(task)  # before the params: their setter builds the task's observation spaces
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps
        self.autoreset_mode = autoreset_mode
        params = CartPoleParams.from_keywords(physics)
        self._randomization = randomization_for(randomize, physics)
        self.params = params  # also sets the observation spaces
        self.continuous = continuous  # also sets the action spaces
        # real time, as the single env (the median time step when the sub-envs differ)
        self.metadata["render_fps"] = max(1, round(1 / float(np.median(self.params.tau))))

        self.state = None  # (4, num_envs): one contiguous row per state variable (see the property)
        self.force = np.zeros(self.num_envs, dtype=self.dtype)  # last applied force, for rendering
        self._fraction = np.zeros(self.num_envs, dtype=self.dtype)  # last continuous action, clipped
        self._clock = 0  # steps since the last full reset; sub-env i's episode started at _episode_start[i]
        self._episode_start = np.zeros(self.num_envs, dtype=np.int64)
        # NEXT_STEP: these sub-envs restart on the next step; DISABLED: their episode ended, until they are reset
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        self._warned_stepped_after_end = False
        self._failed = np.zeros(self.num_envs, dtype=bool)  # DISABLED: the failing step was already paid
        self._nonfinite = False  # some state may be NaN or infinite
        self._reset_low, self._reset_high = reset_bounds(None, self._bounding)

    # Settable attributes (directly or through set_attr) are validated as the constructor validates them.
    @property
    def num_envs(self) -> int:
        return self._num_envs

    @num_envs.setter
    def num_envs(self, value: Any) -> None:
        raise ValueError(
            f"num_envs is fixed when the env is made; make a new one: gym.make_vec(..., num_envs={value!r})"
        )

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the simulated state."""
        return self._dtype

    @dtype.setter
    def dtype(self, value: Any) -> None:
        raise ValueError(f"dtype is fixed when the env is made; make a new one: gym.make_vec(..., dtype={value!r})")

    @property
    def continuous(self) -> bool:
        return self._continuous

    @continuous.setter
    def continuous(self, value: Any) -> None:
        self._continuous = require_bool("continuous", value)
        self.single_action_space = action_space(self._continuous, self.task)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    @property
    def max_episode_steps(self) -> int:
        return self._max_episode_steps

    @max_episode_steps.setter
    def max_episode_steps(self, value: Any) -> None:
        self._max_episode_steps = positive_int("max_episode_steps", value, MAX_EPISODE_STEPS)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self._autoreset_mode

    @autoreset_mode.setter
    def autoreset_mode(self, value: Any) -> None:
        self._autoreset_mode = _autoreset_mode(value)
        self.metadata = {**self.metadata, "autoreset_mode": self._autoreset_mode}

    @property
    def render_mode(self) -> str | None:  # type: ignore[override]
        return self._render_mode

    @render_mode.setter
    def render_mode(self, value: Any) -> None:
        if value is not None and value not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None for a vector env, got {value!r}")
        self._render_mode = value
        self.close_extras()

    @property
    def state(self) -> np.ndarray | None:
        """The (4, num_envs) state of the state dtype, one contiguous row per variable (x, x_dot, theta,
        theta_dot); None before the first reset. Assigning an array of that shape sets it (as a copy).

        The array itself, which may be edited in place: the swing-up's step reuses its last observation's cos and sin
        of the angle only while the angle row holds, byte for byte, the values they were computed from."""
        return self._state

    @state.setter
    def state(self, state: Any) -> None:
        self._trig_angle = None
        if state is None:
            self._state = self._rows = self._columns = self._trig = self._trig_rows = self._trig_columns = None
            return
        state = np.array(state, dtype=self.dtype, order="C")  # a copy: the env steps it in place
        if state.shape != (4, self.num_envs):
            raise ValueError(f"state must have shape (4, num_envs) = (4, {self.num_envs}), got {state.shape}")
        self._state = state
        # Views made once: the step and the observations use them every time.
        self._rows = tuple(state)
        self._columns = [row[:, np.newaxis] for row in state]
        # The swing-up's cos and sin of the angle: written by each observation of the whole state, read by the next
        # step's physics while the angle row still has the bytes _trig_angle kept of it then (see _integrate): a
        # cos/sin pair less per step for a copy and a comparison of one row (a 50th of their time), and right
        # whatever a user wrote into the state in between. The observation's columns are views of the state and of
        # these, made once.
        self._trig = self._trig_rows = self._trig_columns = None
        if self._task.swingup:
            self._trig = np.empty((2, self.num_envs), dtype=self.dtype)
            self._trig_rows = tuple(self._trig)
            rows = observation_rows(self._task, self._rows, np, trig_out=self._trig_rows)
            self._trig_columns = [row[:, np.newaxis] for row in rows]
            self._trig_angle = state[2].tobytes()

    @property
    def task(self) -> Task:
        """The task (balance or swing-up), fixed at construction: it decides the spaces."""
        return self._task

    @property
    def params(self) -> CartPoleParams:
        """The physical constants and episode rules in force: numbers, or arrays of shape (num_envs,) where the
        sub-envs differ (randomized parameters included). New ones take effect on the next step, spaces included."""
        if self._params is None:  # randomized values changed since the last read
            assert self._drawn is not None
            self._params = self._drawn.in_force(self._assigned)
        return self._params

    @params.setter
    def params(self, params: CartPoleParams) -> None:
        if not isinstance(params, CartPoleParams):
            raise TypeError(f"params must be a CartPoleParams, such as CartPoleParams(gravity=3.7), got {params!r}")
        if params.batch_shape not in ((), (self.num_envs,)):
            raise ValueError(
                f"params arrays must have shape (num_envs,) = ({self.num_envs},), got {params.batch_shape}"
            )
        self._assigned = self._params = params
        randomization = self._randomization
        self._drawn = DrawnValues(params, randomization, self.num_envs, self.dtype) if randomization else None
        self._constants = constants = self._drawn.constants if self._drawn else ArrayConstants.of(params, self.dtype)
        # the swing-up's spin limit in the state dtype: a 0-d array, or one per sub-env when tau differs; None when
        # tau is drawn at resets: has_ended then divides by each sub-env's tau in force
        randomized_tau = randomization is not None and "tau" in randomization.names
        self._spin_limit = None if randomized_tau else np.asarray(spin_limit(params), dtype=self.dtype)
        # the force of each discrete action: 0, 1 push left, right; the swing-up's 0, 1, 2 left, none, right
        levels = [-1.0, 0.0, 1.0] if self.task.swingup else [-1.0, 1.0]
        self._push_forces = np.array(levels, dtype=self.dtype)  # times force_mag...
        if constants.force_mag.ndim == 0:  # ...once for all when the sub-envs share it (else in _forces)
            self._push_forces *= constants.force_mag
        self._no_failure_reward = constants.failure_reward.ndim == 0 and constants.failure_reward == 0.0
        self._bounding = randomization.bounding(params) if randomization else params
        self.single_observation_space = observation_space(
            self._bounding, self.task, randomization.limits if randomization else None
        )  # bounds follow the thresholds
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.close_extras()  # the renderer's scale follows the track length: the next frame builds a new one

    @property
    def randomize(self) -> Randomization | None:
        """The parameters drawn anew at every reset of a sub-env (see ``continuous_cartpole.randomization``).

        Set it to a ``randomize`` dict (or None) to change them: the observation space follows; sub-envs keep
        their current values until their next reset."""
        return self._randomization

    @randomize.setter
    def randomize(self, spec: Any) -> None:
        randomization = Randomization.of(spec)
        in_force = self.params  # the values in force stay in force until each sub-env's next reset
        self._randomization = randomization
        self.params = in_force

    def _draw_params(self, indices: np.ndarray) -> None:
        """Randomized parameters for the sub-envs ``indices`` (ints), drawn after their start states."""
        if self._drawn is not None:
            self._drawn.draw(self.np_random, indices)
            self._params = None

    @property
    def steps(self) -> np.ndarray:
        """The number of steps of each sub-env's current episode."""
        return self._clock - self._episode_start

    @property
    def force_fraction(self) -> np.ndarray:
        """The last applied force of each sub-env as a fraction of ``force_mag`` (the rendered arrow)."""
        return (self.force / self.params.force_mag).astype(np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        seed = validate_seed(seed)
        options = options_dict(options)
        mask = _reset_mask(options.pop("reset_mask"), self.num_envs) if "reset_mask" in options else None
        # checked before seeding: a refused reset changes nothing
        if self.task.swingup:
            swingup_start_options(options)
            low_high = self._reset_low, self._reset_high  # unused by the swing-up's draw
        else:
            low_high = reset_bounds(options, self._bounding)
        if mask is not None and self._state is None:
            raise gym.error.ResetNeeded("Call reset() without a reset_mask before resetting some sub-envs.")
        super().reset(seed=seed)
        if seed is not None and self._drawn is not None:
            self._drawn.discard()  # so that a seed fixes every later draw, a masked reset's included
        self._reset_low, self._reset_high = low_high
        if mask is None:
            self.state = self._draw_states(self.num_envs).T.astype(self.dtype, order="C")  # rows contiguous
            self._draw_params(np.arange(self.num_envs))
            self._clock = 0
            self._warned_stepped_after_end = False
            mask = slice(None)
        else:
            assert self._state is not None
            indices = mask.nonzero()[0]
            self._state.T[indices] = self._draw_states(indices.size)
            self._trig_angle = None
            self._draw_params(indices)
        self.force[mask] = 0.0
        self._episode_start[mask] = self._clock
        self.prev_done[mask] = False
        self._failed[mask] = False
        return self._observations(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        force = self._forces(actions)
        if self._state is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if self.autoreset_mode == AutoresetMode.DISABLED and not self._warned_stepped_after_end:
            self._warn_if_stepping_ended_episodes()
        state, task = self._state, self._task
        next_step = self.autoreset_mode == AutoresetMode.NEXT_STEP
        # The swing-up's observations and task rewards come with the physics, block by block (see _integrate); with
        # NEXT_STEP after its restarts instead (see _observe_all), which then need no observation of their own.
        obs = np.empty((self.num_envs, task.observation_size), dtype=np.float32) if task.swingup else None
        if self._nonfinite:  # stepping NaN or infinity only makes more of them: no need to warn again
            with np.errstate(invalid="ignore", over="ignore"):
                terminated, finite, reward = self._integrate(state, force, None if next_step else obs)
        else:
            terminated, finite, reward = self._integrate(state, force, None if next_step else obs)
        self._nonfinite = not finite  # the exact per-sub-env rule below only when this fails
        if self._nonfinite:
            gym.logger.warn("A cart-pole state became NaN or infinite; its episode terminates.")
            with np.errstate(invalid="ignore"):
                terminated |= is_nonfinite(state[0], state[2], state[1], state[3])
        self._clock += 1
        truncated = self._episode_start <= self._clock - self.max_episode_steps

        info: dict[str, Any] = {}
        restarted = None
        if next_step:
            restarted = self._restart_previously_done(terminated, truncated)  # clears their flags
            if obs is not None:
                reward = self._observe_final(obs)
        failure_reward = self._constants.failure_reward  # a number, or one per sub-env
        if obs is not None:
            np.copyto(reward, failure_reward, where=terminated, casting="same_kind")
        elif self._no_failure_reward:
            reward = np.subtract(1.0, terminated, dtype=np.float32)  # a quarter of np.where's time
        else:  # the failing step's reward rounded to float32 (a no-op for a float32 state)
            reward = np.where(terminated, failure_reward, np.float32(1.0)).astype(np.float32, copy=False)
        if next_step:
            if restarted.size:
                reward[restarted] = 0.0
            np.logical_or(terminated, truncated, out=self.prev_done)
            restarted = None  # observed after their restart
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            info, restarted = self._restart_done(terminated | truncated, obs)
        else:  # DISABLED: like a single env stepped past its end, the failing step pays once
            reward[self._failed & terminated] = 0.0
            self._failed |= terminated
            self.prev_done |= terminated | truncated
        if obs is None:
            return self._observations(), reward, terminated, truncated, info
        if restarted is not None and restarted.size:
            obs[restarted] = self._observations(restarted)
        return obs, reward, terminated, truncated, info

    def _warn_if_stepping_ended_episodes(self) -> None:
        """DISABLED: warn once when sub-envs whose episode ended are stepped without a reset, as a single env does."""
        if self.prev_done.any():
            self._warned_stepped_after_end = True
            ended = np.flatnonzero(self.prev_done)
            gym.logger.warn(
                f"sub-envs {ended[:10].tolist()} are stepped after their episode ended; with AutoresetMode.DISABLED "
                'reset them with reset(options={"reset_mask": mask}). Such steps go on from the final state; a '
                "failing one pays 0.0. (Warned once.)"
            )

    def _integrate(
        self, state: np.ndarray, force: np.ndarray, obs: np.ndarray | None
    ) -> tuple[np.ndarray, bool, np.ndarray | None]:
        """Step ``state`` in place, block by block (each block's temporaries stay in the cache).

        Returns where each sub-env's episode ended (NaN aside) and whether every new state is finite; with ``obs``
        (the swing-up), it also writes the observations and returns the task's float32 rewards (else None).
        """
        task = self._task
        # the swing-up's cos and sin of the angle, if known: computed from the angle row as it is now
        angle = self._trig_angle
        trig = self._trig if angle is not None and angle == state[2].tobytes() else None
        self._trig_angle = None  # the angle changes now
        if self.num_envs <= BLOCK:  # one block: no slicing, no copy of the failure flags
            params = self._constants
            rows = self._rows
            stepped = step_state(params, rows, force, np, out=rows, trig=None if trig is None else self._trig_rows)
            if obs is None:
                return has_ended(task, params, stepped, self._spin_limit), bool(np.isfinite(state).all()), None
            reward = np.asarray(self._observe(None, obs), dtype=np.float32)
            self._trig_angle = state[2].tobytes()
            return has_ended(task, params, stepped, self._spin_limit), bool(np.isfinite(state).all()), reward
        ended = np.empty(self.num_envs, dtype=bool)
        reward = None if obs is None else np.empty(self.num_envs, dtype=np.float32)
        finite = True
        for start in range(0, self.num_envs, BLOCK):
            block = slice(start, start + BLOCK)
            params = self._constants.block(block)  # views of the per-sub-env arrays, which draws update in place
            rows = tuple(state[:, block])
            block_trig = None if trig is None else tuple(trig[:, block])
            stepped = step_state(params, rows, force[block], np, out=rows, trig=block_trig)
            if reward is not None:
                reward[block] = self._observe(block, obs)
            spin = self._spin_limit
            if spin is not None and spin.ndim:
                spin = spin[block]
            ended[block] = has_ended(task, params, stepped, spin)
            finite &= bool(np.isfinite(state[:, block]).all())
        self._trig_angle = None if reward is None else state[2].tobytes()
        return ended, finite, reward

    def _observe(self, block: slice | None, obs: np.ndarray) -> np.ndarray:
        """The swing-up's observations of the current state of the sub-envs ``block`` (None: all, through the views
        made once), written into ``obs``, and their task rewards; the cos and sin go to ``_trig`` for the reward
        and the next step's physics."""
        assert self._state is not None and self._trig is not None and self._trig_columns is not None
        if block is None:
            state, trig, columns, out = self._rows, self._trig_rows, self._trig_columns, obs
            fraction, force, force_mag = self._fraction, self.force, self._constants.force_mag
        else:
            state, trig, out = tuple(self._state[:, block]), tuple(self._trig[:, block]), obs[block]
            fraction, force, force_mag = self._fraction[block], self.force[block], self._constants.force_mag
            if force_mag.ndim:
                force_mag = force_mag[block]
        rows = observation_rows(self._task, state, np, trig_out=trig)
        if block is not None:
            columns = [row[:, np.newaxis] for row in rows]
        np.concatenate(columns, axis=1, out=out, casting="same_kind")
        # the force fraction u of dm_control's small_control: the clipped action, or -1, 0, +1 (exact divisions)
        return swingup_reward(self._task, rows, fraction if self.continuous else force / force_mag, np)

    def _restart_previously_done(self, terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
        """NEXT_STEP: sub-envs whose episode ended on the last step start a new one now (the caller pays them 0.0);
        returns their indices."""
        done_before = self.prev_done.nonzero()[0]  # under half the time of np.flatnonzero
        if done_before.size:
            self._restart(done_before)
            terminated[done_before] = False
            truncated[done_before] = False
        return done_before

    def _observe_final(self, obs: np.ndarray) -> np.ndarray:
        """``_observe_all``, quiet about NaN or infinite states (they terminate, and were warned about)."""
        if self._nonfinite:
            with np.errstate(invalid="ignore", over="ignore"):
                return self._observe_all(obs)
        return self._observe_all(obs)

    def _observe_all(self, obs: np.ndarray) -> np.ndarray:
        """The swing-up's observations of the current state, written into ``obs``, and its float32 task rewards."""
        assert self._state is not None
        if self.num_envs <= BLOCK:  # the rewards as computed: no copy when the state is float32
            reward = np.asarray(self._observe(None, obs), dtype=np.float32)
        else:
            reward = np.empty(self.num_envs, dtype=np.float32)
            for start in range(0, self.num_envs, BLOCK):
                block = slice(start, start + BLOCK)
                reward[block] = self._observe(block, obs)
        self._trig_angle = self._state[2].tobytes()
        return reward

    def _restart_done(self, done: np.ndarray, obs: np.ndarray | None) -> tuple[dict[str, Any], np.ndarray]:
        """SAME_STEP: ended sub-envs restart now; their last observation goes to ``info["final_obs"]``."""
        ended = done.nonzero()[0]
        if not ended.size:
            return {}, ended
        final_obs = np.full(self.num_envs, None, dtype=object)  # per sub-env, as SyncVectorEnv gives it
        last = obs[ended] if obs is not None else self._observations(ended)
        for index, row in zip(ended, last, strict=True):
            final_obs[index] = row
        self._restart(ended)
        return {"final_obs": final_obs, "_final_obs": done, "final_info": {}, "_final_info": done.copy()}, ended

    def _restart(self, indices: np.ndarray) -> None:
        assert self._state is not None
        self._state.T[indices] = self._draw_states(indices.size)  # rows of 4, cast on assignment: one pass
        self._trig_angle = None
        self._draw_params(indices)
        self._episode_start[indices] = self._clock
        self.force[indices] = 0.0

    def _forces(self, actions: Any) -> np.ndarray:
        """Validate a batch of actions and return the force on each cart, shape (num_envs,), in the state dtype."""
        actions = np.asarray(actions)
        if actions.dtype.kind not in "fiu":
            raise TypeError(f"actions must be numeric, got dtype {actions.dtype}")
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {actions.shape}")
        if self.continuous:
            column, fraction = actions[:, 0], self._fraction  # the swing-up's reward reads the fraction
            # Two read-only passes find the usual batch, every action in [-1, 1]: copied, rounded to the state
            # dtype, with no clipping and no finiteness test (NaN fails both comparisons).
            if column.min() >= -1.0 and column.max() <= 1.0:
                np.copyto(fraction, column, casting="same_kind")
            else:
                if not np.isfinite(column).all():
                    bad = np.flatnonzero(~np.isfinite(column))
                    raise ValueError(f"actions must be finite; sub-envs {bad[:10].tolist()} got {column[bad[:10]]}")
                np.minimum(np.maximum(column, -1.0, out=fraction), 1.0, out=fraction)  # np.clip's wrapper costs more
            return np.multiply(fraction, self._constants.force_mag, out=self.force)
        valid = "0, 1 or 2" if self.task.swingup else "0 or 1"
        if actions.dtype.kind not in "iu":
            raise TypeError(f"discrete actions must be integers ({valid}), got dtype {actions.dtype}")
        # Read as unsigned, a negative integer is huge, so one max finds every value outside the space. Converting
        # the integers themselves to floats would take longer than the rest of this function.
        last = len(self._push_forces) - 1
        if actions.size and actions.view(actions.dtype.str.replace("i", "u")).max() > last:  # byte order kept
            bad = np.flatnonzero((actions < 0) | (actions > last))
            raise ValueError(f"discrete actions must be {valid}; sub-envs {bad[:10].tolist()} got {actions[bad[:10]]}")
        force = self._push_forces.take(actions, out=self.force, mode="clip")  # checked above: clip changes nothing
        if self._constants.force_mag.ndim:
            force *= self._constants.force_mag  # -1, 0, +1 times each sub-env's force_mag: exact, as in the single env
        return force

    def _draw_states(self, count: int) -> np.ndarray:
        """(count, 4) float64 start states: sub-env i gets the random numbers a single env would draw."""
        if self.task.swingup:  # the single env's draw and arithmetic, row by row
            states = self.np_random.normal(size=(count, 4))
            states.clip(-SWINGUP_START_CLIP, SWINGUP_START_CLIP, out=states)
            states *= SWINGUP_START_NOISE
            states[:, 2] += SWINGUP_START_ANGLE
            return states
        return self.np_random.uniform(low=self._reset_low, high=self._reset_high, size=(count, 4))

    def _observations(self, indices: np.ndarray | None = None) -> np.ndarray:
        """A fresh (num_envs, 4 or 5) float32 array, written straight from the (4, num_envs) state."""
        assert self._state is not None and self._columns is not None
        # Joining (n, 1) columns takes under half the time of copying the transposed state in one assignment,
        # which NumPy walks four values at a time.
        if indices is None and not self.task.swingup:  # the balance's observation is the state
            return np.concatenate(self._columns, axis=1, dtype=np.float32, casting="same_kind")
        state = self._state if indices is None else self._state[:, indices]
        columns = [row[:, np.newaxis] for row in observation_rows(self.task, tuple(state), np)]
        return np.concatenate(columns, axis=1, dtype=np.float32, casting="same_kind")

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn('render() needs render_mode="rgb_array": gym.make_vec(..., render_mode="rgb_array")')
            return None
        if self._state is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        params = self.params
        if self._renderer is None:
            self._renderer = CartPoleRenderer(
                self.render_mode, float(np.max(params.x_threshold)), 1.0, whole_circle=self.task.swingup
            )
        x_thresholds, lengths = (np.broadcast_to(v, (self.num_envs,)) for v in (params.x_threshold, params.length))
        frames = []
        for x, theta, fraction, x_threshold, length in zip(
            self._state[0], self._state[2], self.force_fraction, x_thresholds, lengths, strict=True
        ):
            self._renderer.set_geometry(float(x_threshold), float(length))  # each sub-env to its own track and pole
            self._renderer.draw(float(x), float(theta), float(fraction) if self.continuous else None)
            frames.append(self._renderer.rgb_array())
        return tuple(frames)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """One result per sub-env, as ``SyncVectorEnv.call`` gives: ``call("render")`` is each sub-env's frame.

        The sub-envs share every other attribute, so its value (or what calling it once returns) is repeated.
        """
        if name == "render":
            frames = self.render(*args, **kwargs)
            return frames if frames is not None else (None,) * self.num_envs
        if name == "params" and self.params.is_batched:  # each sub-env's own values, as numbers
            return tuple(self.params.at(i) for i in range(self.num_envs))
        value = self._shared_attribute(name)
        result = value(*args, **kwargs) if callable(value) else value
        return (result,) * self.num_envs

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """``call(name)``, as in ``SyncVectorEnv``."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set a shared attribute: one value, or a list or tuple of ``num_envs`` equal values; validated as the
        constructor validates it (``num_envs`` and ``dtype`` are fixed). ``params`` also takes one
        ``CartPoleParams`` per sub-env (or one with arrays of shape (num_envs,)): sub-env i steps with its own."""
        self._shared_attribute(name)
        if name == "params" and isinstance(values, (list, tuple)):
            values = _stacked(values, self.num_envs)
        elif isinstance(values, (list, tuple)):
            if len(values) != self.num_envs or any(value is not values[0] and value != values[0] for value in values):
                raise ValueError(
                    f"the sub-envs share {name!r}: pass one value or {self.num_envs} equal values, got {values!r}"
                )
            values = values[0]
        setattr(self, name, values)

    def _shared_attribute(self, name: str) -> Any:
        if name.startswith("_") or not hasattr(self, name):
            raise AttributeError(f"CartPoleVectorEnv has no public attribute {name!r}")
        return getattr(self, name)

    def close_extras(self, **kwargs: Any) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_renderer": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.state = self._state  # a pickle copies views: make the rows and columns again
        if self._drawn is not None:
            self._constants = self._drawn.constants  # the draws update these (see DrawnValues.__setstate__)


def _stacked(params: list[Any] | tuple[Any, ...], num_envs: int) -> CartPoleParams:
    """One ``CartPoleParams`` holding a list of ``num_envs`` of them: a number where all agree, else an array."""
    if len(params) != num_envs or not all(isinstance(p, CartPoleParams) and not p.is_batched for p in params):
        raise ValueError(f"params must be one CartPoleParams or a list of {num_envs} (one per sub-env), got {params!r}")
    integrators = {p.kinematics_integrator for p in params}
    if len(integrators) > 1:
        raise ValueError(f"the sub-envs share kinematics_integrator: pass one value, got {sorted(integrators)}")
    columns = {name: np.array([getattr(p, name) for p in params]) for name in NUMERIC_FIELDS}
    return replace(
        params[0],
        **{name: column if (column != column[0]).any() else column[0].item() for name, column in columns.items()},
    )


def _autoreset_mode(mode: Any) -> AutoresetMode:
    try:
        return AutoresetMode(mode)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in AutoresetMode)
        raise ValueError(f"autoreset_mode must be an AutoresetMode or one of {valid}, got {mode!r}") from None


def _reset_mask(mask: Any, num_envs: int) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ValueError(f"reset option reset_mask must be a bool array of shape ({num_envs},), got {mask!r}")
    if not mask.any():
        raise ValueError("reset option reset_mask must select at least one sub-env")
    return mask
