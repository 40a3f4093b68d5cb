"""The native NumPy vector env: N cart-poles stepped together by the shared physics core."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from continuous_cartpole.physics import ArrayConstants, CartPoleParams, is_nonfinite, step_state
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
    swingup_reward,
)

# Envs per physics block. Temporaries of 16384 float64 values stay in the L2 cache and are reused by the
# allocator; whole-batch temporaries at N = 65536 make glibc return and re-fault memory on every step (2x slower).
BLOCK = 16384


class CartPoleVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` independent cart-poles (see ``CartPoleEnv``) stepped together with NumPy. It is the
    ``vector_entry_point`` of both registered ids, so ``gym.make_vec("ContinuousCartPole-v0", num_envs=N)``
    returns it. The dynamics are the same code as the single env's, and with ``num_envs=1``, the same seed and
    ``dtype=np.float64`` it reproduces the single env bit for bit.

    ## Action Space

    ``continuous=True``: ``Box(-1, 1, (num_envs, 1), float32)``, clipped; ``continuous=False``:
    ``MultiDiscrete([2] * num_envs)``. A batch with NaN or infinite values, a wrong shape or a discrete value
    outside {0, 1} raises ``ValueError`` and leaves every sub-env unchanged.

    ## Observation Space

    ``Box`` of shape (num_envs, 4), float32: x, x_dot, theta, theta_dot, with the single env's finite bounds.

    ## Rewards

    Per sub-env: 1.0 while the pole stays up, ``failure_reward`` on the failing step, 0.0 on the reset step that
    follows the end of an episode (``NEXT_STEP``) and on steps past a failure (``DISABLED``, as in the single env).

    ## Starting State

    Every state variable uniform in [-0.05, 0.05] (or ``reset(options={"low": ..., "high": ...})``), drawn from the
    env's seeded ``np_random``.

    ## Episode End

    Termination as in the single env (a NaN or infinite state terminates too, with a warning); truncation after
    ``max_episode_steps`` (500). ``autoreset_mode`` chooses what follows the end of an episode, as Gymnasium's
    ``SyncVectorEnv`` does it:

    - ``AutoresetMode.NEXT_STEP`` (default): the next step returns the reset observation, reward 0.0 and both flags
      False, and ignores that sub-env's action.
    - ``AutoresetMode.SAME_STEP``: the step that ends the episode returns the reset observation already; the last
      observation is in ``info["final_obs"]`` (an object array, ``None`` for the other sub-envs) with the mask
      ``info["_final_obs"]``, and ``info["final_info"]`` / ``info["_final_info"]`` beside them.
    - ``AutoresetMode.DISABLED``: nothing restarts by itself; ``reset(options={"reset_mask": mask})`` restarts the
      sub-envs where the bool mask of shape (num_envs,) is True and leaves the others as they are.

    ## Arguments

    ``num_envs``, ``continuous`` (a bool), ``max_episode_steps=500``, ``render_mode`` (``None`` or
    ``"rgb_array"``: one frame per sub-env), ``dtype`` of the simulated state: ``np.float32`` (default, 2-3x the
    throughput of float64, within float32 rounding of the single env) or ``np.float64`` (bit for bit the single
    env's results), ``autoreset_mode`` (an ``AutoresetMode`` or its string value, such as ``"SameStep"``) and the
    physics keyword arguments of ``CartPoleParams``. ``call``, ``get_attr`` and ``set_attr`` work as in
    ``SyncVectorEnv``: ``call("render")`` gives each sub-env's frame; every other attribute is shared.

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

    ## Version History

    - v0: initial release; float32 state by default, every Gymnasium autoreset mode.
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
        **physics: Any,
    ) -> None:
        for name, value in (("num_envs", num_envs), ("max_episode_steps", max_episode_steps)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be 'rgb_array' or None for a vector env, got {render_mode!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.num_envs = int(num_envs)
        self._renderer: CartPoleRenderer | None = None
        self._task = Task(task)  # before the params: their setter builds the task's observation spaces
        self.params = CartPoleParams.from_keywords(physics)
        self.continuous = require_bool("continuous", continuous)
        self.max_episode_steps = int(max_episode_steps)
        self.render_mode = render_mode
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}

        self.single_action_space = action_space(self.continuous, self.task)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        self.state: np.ndarray | None = None  # (4, num_envs): one contiguous row per state variable
        self.force = np.zeros(self.num_envs, dtype=self.dtype)  # last applied force, for rendering
        self._fraction = np.zeros(self.num_envs, dtype=self.dtype)  # last continuous action, clipped
        self._clock = 0  # steps since the last full reset; sub-env i's episode started at _episode_start[i]
        self._episode_start = np.zeros(self.num_envs, dtype=np.int64)
        # NEXT_STEP: these sub-envs restart on the next step; DISABLED: their episode ended, until they are reset
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        self._warned_stepped_after_end = False
        self._failed = np.zeros(self.num_envs, dtype=bool)  # DISABLED: the failing step was already paid
        self._nonfinite = False  # some state may be NaN or infinite
        self._reset_low, self._reset_high = reset_bounds(None, self.params)

    @property
    def task(self) -> Task:
        """The task (balance or swing-up), fixed at construction: it decides the spaces."""
        return self._task

    @property
    def params(self) -> CartPoleParams:
        """The physical constants and episode rules; new ones take effect on the next step, spaces included."""
        return self._params

    @params.setter
    def params(self, params: CartPoleParams) -> None:
        if not isinstance(params, CartPoleParams):
            raise TypeError(f"params must be a CartPoleParams, such as CartPoleParams(gravity=3.7), got {params!r}")
        self._params = params
        self._constants = ArrayConstants.of(params, self.dtype)
        # the force of each discrete action: 0, 1 push left, right; the swing-up's 0, 1, 2 left, none, right
        levels = [-1.0, 0.0, 1.0] if self.task.swingup else [-1.0, 1.0]
        self._push_forces = np.array([level * params.force_mag for level in levels], dtype=self.dtype)
        self.single_observation_space = observation_space(params, self.task)  # its bounds follow the thresholds
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.close_extras()  # the renderer's scale follows the track length: the next frame builds a new one

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
            low_high = reset_bounds(options, self.params)
        if mask is not None and self.state is None:
            raise gym.error.ResetNeeded("Call reset() without a reset_mask before resetting some sub-envs.")
        super().reset(seed=seed)
        self._reset_low, self._reset_high = low_high
        if mask is None:
            self.state = self._draw_states(self.num_envs).T.astype(self.dtype, order="C")  # rows contiguous
            self._clock = 0
            self._warned_stepped_after_end = False
            mask = slice(None)
        else:
            assert self.state is not None
            self.state.T[mask] = self._draw_states(np.count_nonzero(mask))
        self.force[mask] = 0.0
        self._episode_start[mask] = self._clock
        self.prev_done[mask] = False
        self._failed[mask] = False
        return self._observations(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        force = self._forces(actions)
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if self.autoreset_mode == AutoresetMode.DISABLED and not self._warned_stepped_after_end:
            self._warn_if_stepping_ended_episodes()
        params, state = self.params, self.state
        # The swing-up computes its observations and rewards with the physics, block by block (see _integrate).
        swingup = self.task.swingup
        obs = np.empty((self.num_envs, 5), dtype=np.float32) if swingup else None
        reward = np.empty(self.num_envs, dtype=np.float32)
        if self._nonfinite:  # stepping NaN or infinity only makes more of them: no need to warn again
            with np.errstate(invalid="ignore", over="ignore"):
                terminated, finite = self._integrate(state, force, obs, reward)
        else:
            terminated, finite = self._integrate(state, force, obs, reward)
        self._nonfinite = not finite  # the exact per-sub-env rule below only when this fails
        if self._nonfinite:
            gym.logger.warn("A cart-pole state became NaN or infinite; its episode terminates.")
            with np.errstate(invalid="ignore"):
                terminated |= is_nonfinite(state[0], state[2], state[1], state[3])
        self._clock += 1
        truncated = self._episode_start <= self._clock - self.max_episode_steps
        if swingup:
            reward[terminated] = params.failure_reward
        elif params.failure_reward == 0.0:
            reward = np.subtract(1.0, terminated, dtype=np.float32)  # a quarter of np.where's time
        else:
            reward = np.where(terminated, np.float32(params.failure_reward), np.float32(1.0))

        info: dict[str, Any] = {}
        restarted = None
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            restarted = self._restart_previously_done(reward, terminated, truncated)
            np.logical_or(terminated, truncated, out=self.prev_done)
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
        self, state: np.ndarray, force: np.ndarray, obs: np.ndarray | None, reward: np.ndarray
    ) -> tuple[np.ndarray, bool]:
        """Step ``state`` in place, block by block (each block's temporaries stay in the cache).

        Returns where each sub-env's episode ended (NaN aside), and whether every new state is finite. With ``obs``
        (the swing-up), it also writes the observations and the task's rewards, before any failure reward.
        """
        params, task = self._constants, self.task
        if self.num_envs <= BLOCK:  # one block: no slicing, no copy of the failure flags
            rows = tuple(state)
            stepped = step_state(params, rows, force, np, out=rows)
            if obs is not None:
                self._observe(stepped, slice(None), obs, reward)
            return has_ended(task, params, stepped), bool(np.isfinite(state).all())
        ended = np.empty(self.num_envs, dtype=bool)
        finite = True
        for start in range(0, self.num_envs, BLOCK):
            block = slice(start, start + BLOCK)
            rows = tuple(state[:, block])
            stepped = step_state(params, rows, force[block], np, out=rows)
            if obs is not None:
                self._observe(stepped, block, obs, reward)
            ended[block] = has_ended(task, params, stepped)
            finite &= bool(np.isfinite(state[:, block]).all())
        return ended, finite

    def _observe(self, stepped: tuple[np.ndarray, ...], block: slice, obs: np.ndarray, reward: np.ndarray) -> None:
        """The swing-up's observations and rewards of one block of stepped states (cos and sin computed once)."""
        rows = observation_rows(self.task, stepped, np)
        np.concatenate([row[:, np.newaxis] for row in rows], axis=1, out=obs[block], casting="same_kind")
        # the force fraction u of dm_control's small_control: the clipped action, or -1, 0, +1 (exact divisions)
        fraction = self._fraction[block] if self.continuous else self.force[block] / self.params.force_mag
        reward[block] = swingup_reward(self.task, rows, fraction, np)

    def _restart_previously_done(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
        """NEXT_STEP: sub-envs whose episode ended on the last step start a new one now, paying 0.0."""
        done_before = self.prev_done.nonzero()[0]  # under half the time of np.flatnonzero
        if done_before.size:
            self._restart(done_before)
            reward[done_before] = 0.0
            terminated[done_before] = False
            truncated[done_before] = False
        return done_before

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
        assert self.state is not None
        self.state.T[indices] = self._draw_states(indices.size)  # rows of 4, cast on assignment: one pass
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
            column = actions[:, 0]
            if not np.isfinite(column).all():
                bad = np.flatnonzero(~np.isfinite(column))
                raise ValueError(f"actions must be finite; sub-envs {bad[:10].tolist()} got {column[bad[:10]]}")
            np.clip(column, -1.0, 1.0, out=self._fraction)  # the swing-up's reward reads it
            return np.multiply(self._fraction, self.params.force_mag, out=self.force)
        valid = "0, 1 or 2" if self.task.swingup else "0 or 1"
        if actions.dtype.kind not in "iu":
            raise TypeError(f"discrete actions must be integers ({valid}), got dtype {actions.dtype}")
        # Read as unsigned, a negative integer is huge, so one max finds every value outside the space. Converting
        # the integers themselves to floats would take longer than the rest of this function.
        last = len(self._push_forces) - 1
        if actions.size and actions.view(actions.dtype.str.replace("i", "u")).max() > last:  # byte order kept
            bad = np.flatnonzero((actions < 0) | (actions > last))
            raise ValueError(f"discrete actions must be {valid}; sub-envs {bad[:10].tolist()} got {actions[bad[:10]]}")
        return self._push_forces.take(actions, out=self.force, mode="clip")  # checked above: clip changes nothing

    def _draw_states(self, count: int) -> np.ndarray:
        """(count, 4) float64 start states: sub-env i gets the random numbers a single env would draw."""
        if self.task.swingup:
            states = SWINGUP_START_NOISE * self.np_random.normal(size=(count, 4)).clip(
                -SWINGUP_START_CLIP, SWINGUP_START_CLIP
            )
            states[:, 2] += SWINGUP_START_ANGLE
            return states
        return self.np_random.uniform(low=self._reset_low, high=self._reset_high, size=(count, 4))

    def _observations(self, indices: np.ndarray | None = None) -> np.ndarray:
        """A fresh (num_envs, 4 or 5) float32 array, written straight from the (4, num_envs) state."""
        assert self.state is not None
        state = self.state if indices is None else self.state[:, indices]
        # Joining (n, 1) columns takes under half the time of copying the transposed state in one assignment,
        # which NumPy walks four values at a time.
        columns = [row[:, np.newaxis] for row in observation_rows(self.task, tuple(state), np)]
        return np.concatenate(columns, axis=1, dtype=np.float32, casting="same_kind")

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn('render() needs render_mode="rgb_array": gym.make_vec(..., render_mode="rgb_array")')
            return None
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        if self._renderer is None:
            self._renderer = CartPoleRenderer(
                self.render_mode, self.params.x_threshold, self.params.length, whole_circle=self.task.swingup
            )
        frames = []
        for x, theta, fraction in zip(self.state[0], self.state[2], self.force_fraction, strict=True):
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
        value = self._shared_attribute(name)
        result = value(*args, **kwargs) if callable(value) else value
        return (result,) * self.num_envs

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """``call(name)``, as in ``SyncVectorEnv``."""
        return self.call(name)

    def set_attr(self, name: str, values: Any) -> None:
        """Set a shared attribute: one value, or a list or tuple of ``num_envs`` equal values."""
        self._shared_attribute(name)
        if isinstance(values, (list, tuple)):
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
