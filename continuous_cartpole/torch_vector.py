"""The batched PyTorch cart-pole: N envs as tensors on one device, stepped by the shared physics core.

This is the only module of ``continuous_cartpole`` that imports torch; ``import continuous_cartpole`` does not.
"""

from __future__ import annotations

import functools
import time
import types
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from continuous_cartpole.arguments import MAX_EPISODE_STEPS, MAX_NUM_ENVS, positive_int
from continuous_cartpole.physics import NUMERIC_FIELDS, CartPoleParams, has_failed, is_nonfinite, step_state
from continuous_cartpole.randomization import randomization_for
from continuous_cartpole.registration import ENV_IDS, registered_id
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

NATIVE_ENTRY_POINT = "continuous_cartpole.env:CartPoleEnv"
CPU_BLOCK = 65536  # envs per physics block on the CPU (see __init__)
MAX_LISTED = 10  # sub-envs named in an error or warning


class Transition(NamedTuple):
    """What one step computes for a batch of sub-envs; ``final_obs`` and ``nonfinite`` only when asked for."""

    state: torch.Tensor  # (4, n) after autoreset
    steps: torch.Tensor  # (n,) int64 episode lengths
    obs: torch.Tensor  # (n, 4) float32; (n, 5) for the swing-up
    reward: torch.Tensor  # (n,) float32
    terminated: torch.Tensor  # (n,) flags (see as_bytes)
    truncated: torch.Tensor  # (n,) flags
    done: torch.Tensor  # (n,) flags: terminated or truncated
    final_obs: torch.Tensor | None  # (n, 4 or 5) float32 before autoreset (SAME_STEP)
    nonfinite: torch.Tensor | None  # (n,) flags: the stepped state has a NaN or an infinity


def as_bytes(flags: torch.Tensor) -> torch.Tensor:
    """Bool flags as uint8 0/1, for ``.view(torch.bool)`` after the transition.

    Inductor's CPU code writes bool tensors one element at a time (about 5x slower than the whole rest of the
    fused step); a uint8 ``where`` stays vectorised. Eager, the view costs nothing.
    """
    if torch.compiler.is_compiling():
        return torch.where(flags, 1, 0).to(torch.uint8)
    return flags.view(torch.uint8)


class Physics(NamedTuple):
    """What the step reads of the parameters: numbers, or ``(n,)`` tensors of the state dtype per sub-env."""

    gravity: Any
    masspole: Any
    length: Any
    tau: Any
    total_mass: Any
    polemass_length: Any
    x_threshold: Any
    theta_threshold_radians: Any
    force_mag: Any
    failure_reward: Any
    kinematics_integrator: str

    @classmethod
    def of(cls, params: CartPoleParams) -> Physics:
        """The numbers of ``params`` (the per-sub-env ones are passed to the transition as tensors)."""
        return cls(**{name: getattr(params, name) for name in cls._fields})


def transition(
    params: Physics,
    task: Task,
    mode: AutoresetMode,
    max_episode_steps: int,
    check_finite: bool,
    state: torch.Tensor,
    steps: torch.Tensor,
    restart: torch.Tensor,
    next_start: torch.Tensor,
    actions: torch.Tensor,
    varying: dict[str, torch.Tensor] | None = None,
) -> Transition:
    """Physics, failure test and autoreset of one batch: pure tensor code, no host reads, compilable as a whole.

    ``restart`` (NEXT_STEP) marks sub-envs that ended on the previous step; ``next_start`` holds start states for
    the sub-envs that reset now; ``actions`` are valid ones (see ``TorchCartPoleVectorEnv._check_actions``);
    ``varying`` the per-sub-env values, by ``Physics`` field, that replace ``params``' numbers. Python branches only
    on the arguments fixed at construction. With DISABLED, ``restart`` marks the sub-envs stepped after their
    episode ended: a failing step among them pays 0.0, as in the NumPy env.
    """
    if varying:
        params = Physics(*(varying.get(name, value) for name, value in zip(Physics._fields, params, strict=True)))
    fraction = force_fractions(actions, state.dtype, task.swingup)
    stepped = step_state(params, tuple(state.unbind(0)), fraction * params.force_mag, torch)
    if task.swingup:
        failed = has_ended(task, params, stepped) | is_nonfinite(stepped[0], stepped[2], stepped[1], stepped[3])
        stepped_obs = observation_rows(task, stepped, torch)
        task_reward = swingup_reward(task, stepped_obs, fraction, torch)
    else:
        # The speeds too: a NaN or infinite one (from a NaN action without validation) ends the episode at once,
        # as the NumPy envs end it.
        failed = has_failed(params, stepped[0], stepped[2], stepped[1], stepped[3])
        stepped_obs, task_reward = stepped, 1.0
    reset_now = restart  # which sub-envs take their start state on this step
    if mode == AutoresetMode.NEXT_STEP:
        steps = torch.where(restart, 0, steps + 1)
        terminated = failed & ~restart
        truncated = (steps >= max_episode_steps) & ~restart
        reward = torch.where(terminated, params.failure_reward, torch.where(restart, 0.0, task_reward))
    else:
        steps = steps + 1
        terminated = failed
        truncated = steps >= max_episode_steps
        reward = torch.where(terminated, params.failure_reward, task_reward)
        reset_now = terminated | truncated
        if mode == AutoresetMode.SAME_STEP:
            steps = torch.where(reset_now, 0, steps)
        else:
            reward = torch.where(restart & terminated, 0.0, reward)
    # Row by row: a where broadcast over the (4, n) state compiles to 2x slower code.
    rows = stepped
    if mode != AutoresetMode.DISABLED:
        rows = tuple(
            torch.where(reset_now, start, row) for start, row in zip(next_start.unbind(0), stepped, strict=True)
        )
    final_obs = torch.stack(stepped_obs, dim=1).to(torch.float32) if mode == AutoresetMode.SAME_STEP else None
    nonfinite = None
    if check_finite:
        finite = functools.reduce(torch.logical_and, (torch.isfinite(row) for row in stepped))
        nonfinite = as_bytes(~finite & ~restart if mode == AutoresetMode.NEXT_STEP else ~finite)
    obs_rows = stepped_obs if mode == AutoresetMode.DISABLED else observation_rows(task, rows, torch)
    obs = torch.stack(obs_rows, dim=1).to(torch.float32)  # a fresh tensor, never the state
    flags = as_bytes(terminated), as_bytes(truncated), as_bytes(terminated | truncated)
    return Transition(torch.stack(rows), steps, obs, reward.to(torch.float32), *flags, final_obs, nonfinite)


def force_fractions(actions: torch.Tensor, dtype: torch.dtype, three_levels: bool = False) -> torch.Tensor:
    """Force / force_mag per sub-env: continuous ``(n, 1)`` actions clipped to [-1, 1], discrete ``(n,)`` ones +-1
    (0 left, 1 right), or with ``three_levels`` (the swing-up) -1, 0, +1 for 0, 1, 2."""
    if actions.dim() == 2:
        return actions[:, 0].to(dtype).clamp(-1.0, 1.0)
    if three_levels:
        return actions.to(dtype) - 1.0
    return (actions == 1).to(dtype) * 2.0 - 1.0  # +1 for action 1, -1 otherwise; faster than a where


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, with one-line errors for names torch rejects and CUDA devices not here."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must name a torch device such as 'cpu' or 'cuda', got {device!r} ({error})") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r}: no CUDA device available; use device='cpu'")
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device={str(device)!r}: this machine has {count} CUDA device(s); "
                f"use device='cuda:0'{f' to cuda:{count - 1}' if count > 1 else ''} or device='cpu'"
            )
    return resolved


def resolve_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    try:
        return AutoresetMode(mode)
    except ValueError:
        choices = ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AutoresetMode)
        raise ValueError(f"autoreset_mode must be one of {choices}, got {mode!r}") from None


def listed(indices: torch.Tensor) -> list[int]:
    """The first ``MAX_LISTED`` positions where a bool tensor is True, for a message (reads the device)."""
    return torch.nonzero(indices).flatten()[:MAX_LISTED].tolist()


class TorchCartPoleVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` cart-poles (see ``CartPoleEnv``) held as tensors on ``device`` and stepped together by the same
    physics code as the NumPy envs (``continuous_cartpole.physics`` with ``xp=torch``). ``reset`` and ``step`` return
    tensors on ``device``, each one fresh (no memory shared with the env's state). With ``dtype=torch.float64`` it
    matches the single env and the NumPy env (float64) to rounding of ``cos``/``sin``; with float32 (the default) to
    float32 rounding.

    ``step`` does no data-dependent Python control flow and no boolean-mask indexing in any autoreset mode: autoreset
    is a ``torch.where`` over every sub-env, so a rollout loop can stay on the GPU. Checking action shapes, dtypes
    and ``requires_grad`` reads metadata only. ``validate_actions=True`` (the default) adds checks that need a
    device-to-host read per step, which training loops whose actions are valid by construction turn off with
    ``validate_actions=False``:

    - action values: NaN or infinite continuous actions, discrete actions outside the space raise ``ValueError``;
    - with ``AutoresetMode.DISABLED``, stepping a sub-env whose episode ended without resetting it warns once (as
      Gymnasium's single env does); the step goes on from the final state and a failing one pays 0.0;
    - a sub-env whose state became non-finite (NaN or infinite, e.g. a state set by hand) gets a warning naming it.
      The physics core's failure test decides its termination, as in every env of the package.

    Without validation a NaN action makes that sub-env's state NaN, which ends its episode on that step (as a
    non-finite state does in every env of the package), and a discrete value outside the space pushes with a force
    that is not one of its levels.

    ``compile=True`` fuses the physics and the autoreset into one kernel with ``torch.compile`` (the inductor
    backend: C++ on the CPU, which needs a C++ compiler, Triton on CUDA). The construction compiles it once, on
    dummy inputs (float32 continuous or int64 discrete actions; other action dtypes compile once more on their first
    step), and stores the seconds it took in ``compile_seconds``; the results equal the eager path's to
    floating-point rounding, with the same flags. It pays from about 2^12 sub-envs on the CPU.

    ## Action Space

    Tensors shaped as the NumPy vector env's actions: ``(num_envs, 1)`` floats, clipped to [-1, 1], for
    ``continuous=True`` (force = action x force_mag); ``(num_envs,)`` integers for ``continuous=False``: 0 left, 1
    right (balance), or 0 left, 1 no force, 2 right (swing-up).
    A tensor on another device is refused rather than copied silently, and one that requires grad is refused: the
    env is not differentiable, so pass ``actions.detach()`` or compute them under ``torch.no_grad()``.
    ``action_space`` describes them as NumPy spaces (Gymnasium has no tensor spaces).

    ## Observation Space

    ``(num_envs, 4)`` float32 tensors: x, x_dot, theta, theta_dot (balance), or ``(num_envs, 5)``: x, x_dot,
    cos theta, sin theta, theta_dot (swing-up), within the single env's finite bounds.

    ## Rewards

    ``(num_envs,)`` float32: the task's reward (balance 1.0 while the pole stays up; swing-up dm_control's, see
    ``CartPoleEnv``), ``failure_reward`` on the failing step, and with ``AutoresetMode.NEXT_STEP`` 0.0 on the reset
    step after an episode ends.

    ## Starting State

    Balance: every state variable uniform in [-0.05, 0.05] (or ``reset(options={"low": ..., "high": ...})``);
    swing-up: hanging down, 0.01 x N(0, 1) on every variable, as the single env. Drawn from the env's own
    ``torch.Generator`` on ``device``: ``reset(seed=s)`` makes everything that follows deterministic.
    Start states for autoreset are pre-drawn for all sub-envs, which needs no data-dependent indexing: every step
    with SAME_STEP, every second step with NEXT_STEP (a sub-env resets at most once in two steps there, so no start
    state is used twice, with half the random numbers). The random stream differs from the NumPy env's, so use
    ``state`` to start both from the same states.

    ## Episode End

    ``terminated`` / ``truncated`` are ``(num_envs,)`` bool tensors: termination as in the single env, truncation
    after ``max_episode_steps``. ``autoreset_mode`` (also ``metadata["autoreset_mode"]``) decides what follows:

    - ``AutoresetMode.NEXT_STEP`` (default, as ``CartPoleVectorEnv``): the step after an episode ends returns the
      reset observation, reward 0.0 and both flags False, ignoring that sub-env's action. ``info`` is empty.
    - ``AutoresetMode.SAME_STEP``: the step that ends an episode returns the next episode's first observation;
      ``info["final_obs"]`` is a ``(num_envs, 4 or 5)`` tensor of the observations before that reset and
      ``info["_final_obs"]`` the bool mask of the sub-envs that ended (both always present: valid where the mask
      is True, so no host read decides whether to add them).
    - ``AutoresetMode.DISABLED``: nothing resets by itself; ``reset(options={"reset_mask": mask})`` with a bool
      tensor of shape ``(num_envs,)`` on ``device`` resets the sub-envs where it is True and leaves the others as
      they are (in every mode). ``info`` is empty.

    ## Arguments

    - ``num_envs``: the number of sub-envs.
    - ``continuous=True``: ``Box`` actions (ContinuousCartPole) or discrete ones (DiscreteCartPole).
    - ``task="balance"``: or ``"swingup"``, ``"swingup_sparse"`` (see ``CartPoleEnv``).
    - ``device="cpu"``: a torch device (``"cuda"``, ``"cuda:1"``); a CUDA device that is not there is refused.
    - ``max_episode_steps=500``: the truncation length.
    - ``dtype=torch.float32``: of the simulated state, ``torch.float32`` or ``torch.float64``.
    - ``validate_actions=True``: the checks that read the device every step (see Description); the non-finite
      state check is compiled into the step, so it follows the value given here.
    - ``autoreset_mode=AutoresetMode.NEXT_STEP``: an ``AutoresetMode`` or its value (``"NextStep"``,
      ``"SameStep"``, ``"Disabled"``).
    - ``compile=False``: fuse the step with ``torch.compile`` (see Description).
    - ``randomize=None``: ``{"length": (0.25, 1.0), ...}`` draws those parameters anew for every episode (see
      ``continuous_cartpole.randomization``), on ``device`` with the env's generator and no host read: like the
      start states, the next values are pre-drawn for every sub-env and taken with a ``torch.where`` where a
      sub-env resets.
    - the physics keyword arguments of ``CartPoleParams``: numbers, or arrays of shape ``(num_envs,)`` (one value
      per sub-env; the observation bounds are the widest over them). ``params`` holds the values in force (reading
      it copies the per-sub-env values to the host).

    ``continuous``, ``validate_actions`` and ``compile`` must be real bools; ``num_envs`` is at most ``2**26``.
    Without validation an all-False ``reset_mask`` resets nothing; with it, it is refused as in the NumPy env.

    ``make_torch_vector_env(env_id, num_envs, **overrides)`` builds one from a registered id.

    ## Version History

    - v0: initial release; autoreset modes and the compiled step; the swing-up tasks; per-sub-env parameters and
      domain randomization.

    >>> import torch
    >>> envs = TorchCartPoleVectorEnv(3, continuous=False, autoreset_mode="SameStep")
    >>> obs, info = envs.reset(seed=0)
    >>> obs.shape, obs.dtype
    (torch.Size([3, 4]), torch.float32)
    >>> obs, reward, terminated, truncated, info = envs.step(torch.tensor([0, 1, 1]))
    >>> reward, sorted(info)
    (tensor([1., 1., 1.]), ['_final_obs', 'final_obs'])
    >>> obs, info = envs.reset(options={"reset_mask": torch.tensor([True, False, False])})
    >>> swingup = make_torch_vector_env("DiscreteCartPoleSwingUp-v0", 2)
    >>> swingup.reset(seed=0)[0].shape, swingup.single_action_space, swingup.max_episode_steps
    (torch.Size([2, 5]), Discrete(3), 1000)
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        *,
        continuous: bool = True,
        device: str | torch.device = "cpu",
        max_episode_steps: int = 500,
        dtype: torch.dtype = torch.float32,
        validate_actions: bool = True,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        compile: bool = False,
        task: str = "balance",
        randomize: Any = None,
        **physics_kwargs: Any,
    ) -> None:
        self.num_envs = positive_int("num_envs", num_envs, MAX_NUM_ENVS)  # checked before anything is allocated
        self.max_episode_steps = positive_int("max_episode_steps", max_episode_steps, MAX_EPISODE_STEPS)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        params = CartPoleParams.from_keywords(physics_kwargs)
        if params.batch_shape not in ((), (self.num_envs,)):
            raise ValueError(f"parameter arrays must have shape (num_envs,) = ({num_envs},), got {params.batch_shape}")
        self.task = Task(task)
        self.randomize = randomization_for(randomize, physics_kwargs)
        self.autoreset_mode = resolve_autoreset_mode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.continuous = require_bool("continuous", continuous)
        self.device = resolve_device(device)
        self.dtype = dtype
        self.validate_actions = require_bool("validate_actions", validate_actions)
        compile = require_bool("compile", compile)
        self.render_mode = None

        # NumPy spaces describe shapes and bounds (Gymnasium has no tensor spaces); the env itself speaks tensors.
        self._bounding = self.randomize.bounding(params) if self.randomize else params
        self.single_action_space = action_space(self.continuous, self.task)
        # holds the observations of every draw
        self.single_observation_space = observation_space(
            self._bounding, self.task, self.randomize.limits if self.randomize else None
        )
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

        self.generator = torch.Generator(device=self.device)
        self._seeded = False
        self.state: torch.Tensor | None = None  # (4, num_envs): one row per state variable, like the NumPy env
        self.steps = torch.zeros(self.num_envs, dtype=torch.int64, device=self.device)
        # NEXT_STEP: the sub-envs that restart on the next step; DISABLED: those whose episode ended, until reset
        self.prev_done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._warned_stepped_after_end = False
        self._next_start = torch.zeros((4, self.num_envs), dtype=dtype, device=self.device)
        self._step_count = 0  # a Python int: decides when start states are redrawn, never reads the device
        self._reset_low, self._reset_high = reset_bounds(None, self._bounding)
        self._init_parameters(params)

        eager = functools.partial(
            transition,
            Physics.of(params.at(0)),
            self.task,
            self.autoreset_mode,
            self.max_episode_steps,
            self.validate_actions,
        )
        self.compile_seconds: float | None = None
        self._transition: Callable[..., Transition] = eager
        # Eager on the CPU runs the physics in blocks whose temporaries stay in cache (1.5-2x faster at N >= 2^18);
        # a GPU, or the fused kernel, takes the whole batch in one go.
        self._block = CPU_BLOCK if self.device.type == "cpu" and not compile else self.num_envs
        if compile:
            self._transition, self.compile_seconds = self._compiled(eager)

    def _compiled(self, eager: Callable[..., Transition]) -> tuple[Callable[..., Transition], float]:
        """``eager`` through ``torch.compile``, compiled now on dummy inputs of the real shapes; and the seconds.

        torch.compile keeps at most ``recompile_limit`` (8) versions per code object and, with ``fullgraph``, fails
        beyond that; every env compiles its own copy of the code, so any number of compiled envs can coexist.
        """

        def bound(*tensors: torch.Tensor) -> Transition:
            return eager(*tensors)

        own = types.FunctionType(bound.__code__.replace(), bound.__globals__, bound.__name__, None, bound.__closure__)
        fused = torch.compile(own, fullgraph=True, dynamic=False)
        state = torch.zeros((4, self.num_envs), dtype=self.dtype, device=self.device)
        start = time.perf_counter()
        actions = torch.zeros(self.action_space.shape, dtype=torch.float32 if self.continuous else torch.int64)
        fused(state, self.steps, self.prev_done, self._next_start, actions.to(self.device), self._varying)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return fused, time.perf_counter() - start

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        seed = validate_seed(seed)
        # Options are checked before seeding: a refused reset changes nothing.
        if self.task.swingup:
            swingup_start_options({k: v for k, v in (options or {}).items() if k != "reset_mask"})
            low, high = self._reset_low, self._reset_high  # unused by the swing-up's draw
        else:
            low, high = reset_bounds(options, self._bounding)
        mask = self._reset_mask(options)
        if seed is not None:
            self.generator.manual_seed(seed)
            self._seeded = True
        elif not self._seeded:
            self.generator.seed()  # fresh entropy, as Gymnasium does for reset(seed=None) on a new env
            self._seeded = True
        self._reset_low, self._reset_high = low, high
        fresh = torch.empty((4, self.num_envs), dtype=self.dtype, device=self.device)
        self._draw_start_states(fresh)
        if self.randomize:  # every sub-env's draw, taken where the mask says: no host read
            self._draw_parameters()
            self._take_parameters(mask)
        if mask is None:
            self.state = fresh
            self.steps.zero_()
            self.prev_done.zero_()
            self._step_count = 0
            self._warned_stepped_after_end = False
        else:  # a torch.where over every sub-env: no host read, whatever the mask holds
            assert self.state is not None
            self.state = torch.where(mask, fresh, self.state)
            self.steps = torch.where(mask, 0, self.steps)
            self.prev_done = self.prev_done & ~mask
        return self._observations(), {}

    def _reset_mask(self, options: dict[str, Any] | None) -> torch.Tensor | None:
        """The validated ``options["reset_mask"]``, or None for a reset of every sub-env."""
        if not options or "reset_mask" not in options:
            return None
        mask = options["reset_mask"]
        expected = f"a bool tensor of shape ({self.num_envs},) on {self.device}"
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"reset_mask must be {expected}, got {type(mask).__name__}")
        if mask.dtype != torch.bool or tuple(mask.shape) != (self.num_envs,) or mask.device != self.device:
            raise ValueError(
                f"reset_mask must be {expected}, got dtype {mask.dtype}, shape {tuple(mask.shape)} on {mask.device}"
            )
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() without reset_mask before resetting some sub-envs.")
        if self.validate_actions and not bool(mask.any()):  # a host read, as every check of values
            raise ValueError("reset_mask must select at least one sub-env")
        return mask

    def step(
        self, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        self._check_actions(actions)
        if self.state is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        mode = self.autoreset_mode
        if mode == AutoresetMode.DISABLED and self.validate_actions and not self._warned_stepped_after_end:
            self._warn_if_stepping_ended_episodes()
        # See "Starting State": two steps apart with NEXT_STEP, so no start state is reused.
        if mode == AutoresetMode.SAME_STEP or (mode == AutoresetMode.NEXT_STEP and self._step_count % 2 == 0):
            self._draw_start_states(self._next_start)
            if self.randomize:
                self._draw_parameters()  # after the start states, at the same steps: no draw is used twice
        self._step_count += 1

        restarted = self.prev_done
        result = self._run_blocks(actions)
        self.state, self.steps = result.state, result.steps
        terminated, truncated, done = (f.view(torch.bool) for f in (result.terminated, result.truncated, result.done))
        if self.randomize and mode != AutoresetMode.DISABLED:  # the sub-envs that took a start state take physics
            self._take_parameters(restarted if mode == AutoresetMode.NEXT_STEP else done)
        if mode == AutoresetMode.NEXT_STEP:
            self.prev_done = done
        elif mode == AutoresetMode.DISABLED:  # ended stays ended until reset
            self.prev_done = self.prev_done | done
        if result.nonfinite is not None and bool(result.nonfinite.any()):
            gym.logger.warn(
                f"sub-envs {listed(result.nonfinite)} reached a non-finite state (NaN or infinite); it ends their "
                "episode. Check the states set by hand and the physics parameters."
            )
        info: dict[str, Any] = {}
        if mode == AutoresetMode.SAME_STEP:
            info = {"final_obs": result.final_obs, "_final_obs": done}
        return result.obs, result.reward, terminated, truncated, info

    def _warn_if_stepping_ended_episodes(self) -> None:
        """DISABLED: warn once when sub-envs whose episode ended are stepped without a reset (reads the device)."""
        if bool(self.prev_done.any()):
            self._warned_stepped_after_end = True
            gym.logger.warn(
                f"sub-envs {listed(self.prev_done)} are stepped after their episode ended; with "
                'AutoresetMode.DISABLED reset them with reset(options={"reset_mask": mask}). Such steps go on '
                "from the final state; a failing one pays 0.0. (Warned once.)"
            )

    def _run_blocks(self, actions: torch.Tensor) -> Transition:
        """The transition over every sub-env, in blocks of ``self._block`` joined along the env axis."""
        assert self.state is not None
        if self._block >= self.num_envs:  # one block: no slicing ops (each costs microseconds of dispatch)
            return self._transition(self.state, self.steps, self.prev_done, self._next_start, actions, self._varying)
        parts = [
            self._transition(
                self.state[:, block],
                self.steps[block],
                self.prev_done[block],
                self._next_start[:, block],
                actions[block],
                {name: values[block] for name, values in self._varying.items()},
            )
            for block in (slice(start, start + self._block) for start in range(0, self.num_envs, self._block))
        ]
        joined = []
        for name, values in zip(Transition._fields, zip(*parts, strict=True), strict=True):
            env_axis = 1 if name == "state" else 0
            joined.append(None if values[0] is None else torch.cat(values, env_axis))
        return Transition(*joined)

    def _check_actions(self, actions: Any) -> None:
        """Refuse a batch of actions the transition cannot take; the value checks only when validating."""
        if not isinstance(actions, torch.Tensor):
            raise TypeError(f"actions must be a torch.Tensor on {self.device}, got {type(actions).__name__}")
        if actions.device != self.device:
            raise ValueError(f"actions must be on the env's device {self.device}, got a tensor on {actions.device}")
        if actions.requires_grad:
            raise ValueError(
                "actions require grad, but the env is not differentiable; pass actions.detach() "
                "(or compute them under torch.no_grad())"
            )
        if actions.dtype == torch.bool or actions.is_complex():
            raise TypeError(f"actions must be real numbers, got dtype {actions.dtype}")
        valid_values = "0, 1 or 2" if self.task.swingup else "0 or 1"
        if not self.continuous and actions.is_floating_point():
            raise TypeError(f"discrete actions must be integers ({valid_values}), got dtype {actions.dtype}")
        if tuple(actions.shape) != self.action_space.shape:
            raise ValueError(f"actions must have shape {self.action_space.shape}, got {tuple(actions.shape)}")
        if self.continuous:
            values = actions[:, 0]
            if self.validate_actions and actions.is_floating_point() and not bool(torch.isfinite(values).all()):
                bad = torch.nonzero(~torch.isfinite(values)).flatten()[:MAX_LISTED]
                raise ValueError(f"actions must be finite; sub-envs {bad.tolist()} got {values[bad].tolist()}")
        elif self.validate_actions:
            valid = (actions >= 0) & (actions < self.single_action_space.n)
            if not bool(valid.all()):
                bad = torch.nonzero(~valid).flatten()[:MAX_LISTED]
                raise ValueError(
                    f"discrete actions must be {valid_values}; sub-envs {bad.tolist()} got {actions[bad].tolist()}"
                )

    def _draw_start_states(self, out: torch.Tensor) -> None:
        if self.task.swingup:  # dm_control's: hanging down, 0.01 x N(0, 1) on every variable (see tasks.py)
            out.normal_(generator=self.generator).clamp_(-SWINGUP_START_CLIP, SWINGUP_START_CLIP)
            out.mul_(SWINGUP_START_NOISE)
            out[2] += SWINGUP_START_ANGLE
        else:
            out.uniform_(self._reset_low, self._reset_high, generator=self.generator)

    @property
    def params(self) -> CartPoleParams:
        """The parameters in force: numbers, or arrays of shape (num_envs,) where the sub-envs differ (randomized
        ones included). Reading them copies the per-sub-env values to the host."""
        if not self._values:
            return self._params
        arrays = {name: values.cpu().numpy() for name, values in self._values.items()}
        return replace(self._params, **{name: arrays[name] for name in self._varying_fields})

    def _init_parameters(self, params: CartPoleParams) -> None:
        """Tensors of the per-sub-env values: float64 ones of every parameter, and the step's in the state dtype."""
        self._params = params
        drawn = set(self.randomize.names) if self.randomize else set()
        self._varying_fields = tuple(name for name in NUMERIC_FIELDS if name in drawn or np.ndim(getattr(params, name)))
        self._values: dict[str, torch.Tensor] = {}  # float64 per sub-env, when any parameter varies
        self._upcoming: dict[str, torch.Tensor] = {}  # the next draws of the randomized ones
        self._varying: dict[str, torch.Tensor] = {}  # by Physics field, in the state dtype
        if not self._varying_fields:
            return
        self._values = {
            name: torch.tensor(np.broadcast_to(getattr(params, name), (self.num_envs,)), dtype=torch.float64).to(
                self.device
            )
            for name in NUMERIC_FIELDS
        }
        varying = set(self._varying_fields)
        derived = {"total_mass": ("masspole", "masscart"), "polemass_length": ("masspole", "length")}
        self._varying_constants = tuple(
            name for name in Physics._fields if name in varying or varying & set(derived.get(name, ()))
        )
        self._refresh_varying()

    def _refresh_varying(self) -> None:
        """The step's per-sub-env tensors from the float64 values (derived ones computed in float64 first, as the
        NumPy envs compute them)."""
        values = self._values
        for name in self._varying_constants:
            if name == "total_mass":
                value = values["masspole"] + values["masscart"]
            elif name == "polemass_length":
                value = values["masspole"] * values["length"]
            else:
                value = values[name]
            self._varying[name] = value.to(self.dtype)

    def _draw_parameters(self) -> None:
        """The randomized parameters' next values for every sub-env, float64, on the device with the env's generator."""
        assert self.randomize is not None
        uniform = torch.rand(
            (len(self.randomize.ranges), self.num_envs),
            generator=self.generator,
            dtype=torch.float64,
            device=self.device,
        )
        for r, row in zip(self.randomize.ranges, uniform, strict=True):
            self._upcoming[r.name] = r.spread(row, torch)

    def _take_parameters(self, mask: torch.Tensor | None) -> None:
        """The sub-envs where ``mask`` is True (every one for None) take the drawn parameters."""
        for name, drawn in self._upcoming.items():
            self._values[name] = drawn if mask is None else torch.where(mask, drawn, self._values[name])
        self._refresh_varying()

    def _observations(self) -> torch.Tensor:
        assert self.state is not None
        if self.task.swingup:
            return torch.stack(observation_rows(self.task, tuple(self.state.unbind(0)), torch), dim=1).to(torch.float32)
        obs = torch.empty((self.num_envs, 4), dtype=torch.float32, device=self.device)
        return obs.copy_(self.state.T)  # a fresh tensor even when the state is float32

    def render(self) -> None:
        gym.logger.warn("TorchCartPoleVectorEnv does not render; use CartPoleVectorEnv or CartPoleEnv for frames.")


def make_torch_vector_env(env_id: str, num_envs: int, **overrides: Any) -> TorchCartPoleVectorEnv:
    """A ``TorchCartPoleVectorEnv`` with the registered spec's settings (``continuous``, physics, time limit).

    ``overrides`` are ``TorchCartPoleVectorEnv`` arguments (``device``, ``dtype``, ``validate_actions``,
    ``autoreset_mode``, ``compile``, physics). Ids not backed by ``CartPoleEnv`` raise ``ValueError``.
    """
    spec = gym.spec(registered_id(env_id))
    if spec.entry_point != NATIVE_ENTRY_POINT:
        raise ValueError(
            f"{spec.id} is not a continuous_cartpole env (entry point {spec.entry_point!r}), so it has no torch "
            f"version; use one of {', '.join(ENV_IDS)}"
        )
    kwargs: dict[str, Any] = {**spec.kwargs, "max_episode_steps": spec.max_episode_steps or 500, **overrides}
    return TorchCartPoleVectorEnv(num_envs, **kwargs)
