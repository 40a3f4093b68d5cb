"""Rollouts shown inline in Jupyter: ``baselines.show(run_dir_or_policy, env_id)`` returns an ``Animation`` that a
notebook displays as a looping GIF (or an MP4 video) embedded in its output, on a headless kernel with no window.

The frames are the ones ``cartpole-baselines render`` writes (episode, step, return and force on every frame, why the
episode ended on its last one), encoded by ``baselines.video`` into a temporary file and kept as bytes. Jupyter finds
``Animation._repr_html_`` through IPython's display protocol, so neither IPython nor a display is needed to build one.
"""

from __future__ import annotations

import base64
import html
import os
import statistics
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from baselines.atomic import atomic_path
from baselines.bounded_read import MIB, read_bytes
from baselines.rollouts import (
    SCRIPTED_POLICIES,
    GridFrame,
    RolloutFrame,
    ScriptedPolicy,
    grid_frames,
    parse_grid,
    rollout_frames,
)
from baselines.video import write_video

# A 500-step episode of one 600 x 400 env is about 1 MB as a GIF (0.2 MB as MP4); a notebook holds its output in
# memory and in the .ipynb file, so one animation is capped at this many frames, tiles of a grid counted each.
MAX_TILE_FRAMES = 5_000
ANIMATION_BYTES = 128 * MIB  # the encoded file read back; budgeted animations stay far below (2-4 kB a frame)
MIME_TYPES = {"gif": "image/gif", "mp4": "video/mp4"}


@dataclass(frozen=True)
class Animation:
    """An encoded rollout that Jupyter shows inline; ``save(path)`` writes it to a file."""

    data: bytes  # the encoded GIF or MP4
    format: Literal["gif", "mp4"]
    env_id: str
    frames: int
    fps: float
    returns: tuple[float, ...]  # of the episodes that finished, in the order they finished

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    def _repr_html_(self) -> str:
        source = f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"
        label = html.escape(repr(self), quote=True)
        if self.format == "gif":
            return f'<img src="{source}" alt="{label}" title="{label}"/>'
        return f'<video src="{source}" title="{label}" controls autoplay loop muted playsinline></video>'

    def __repr__(self) -> str:
        count = len(self.returns)
        mean = f", return mean {statistics.fmean(self.returns):.1f}" if self.returns else ""
        return (
            f"Animation({self.env_id}: {count} episode{'s' * (count != 1)}{mean}; "
            f"{self.frames} frames at {self.fps:g} fps, {self.format.upper()} of {len(self.data) / 1e3:.0f} kB)"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the animation to ``path`` atomically (an older file there stays whole until the new one is)."""
        path = Path(path)
        if path.suffix.lower() != f".{self.format}":
            raise ValueError(f"this animation is a {self.format.upper()}: save it to a .{self.format} file, not {path}")
        with atomic_path(path) as temporary, open(temporary, "wb") as file:
            file.write(self.data)
        return path


def show(
    source: Any,
    env: str | gym.Env | None = None,
    *,
    episodes: int = 1,
    seed: int | None = 0,
    max_steps: int | None = None,
    grid: str | None = None,
    format: Literal["gif", "mp4"] = "gif",
    checkpoint: Literal["best", "last"] = "best",
    env_kwargs: dict[str, Any] | None = None,
) -> Animation:
    """A rollout of ``source`` in ``env``, as an ``Animation`` that Jupyter displays inline.

    ``source``: a run directory written by ``cartpole-baselines train`` or ``baselines.runs.train_run`` (its policy
    from ``checkpoint``, its env unless ``env`` is given); anything with SB3's ``predict(obs, deterministic=True)``
    (ours, SB3's models); a function from one observation to one action; or ``"random"`` / ``"zero"``.

    ``env``: an env id (``module:EnvId`` accepted; made with ``render_mode="rgb_array"`` and ``env_kwargs``), or an
    env made with ``render_mode="rgb_array"``, which is used as it is and not closed. ``episodes`` episodes from a
    first reset with ``seed``; ``max_steps`` ends each one early. ``grid="2x2"`` tiles that many sub-envs of
    ``gym.make_vec(env)``, each playing ``episodes`` episodes (a function ``source`` then gets a batch of
    observations). ``format="mp4"`` needs the ``video`` extra and makes files about a fifth of a GIF's size.

    >>> import baselines
    >>> animation = baselines.show("zero", "ContinuousCartPole-v0", max_steps=20)
    >>> animation
    Animation(ContinuousCartPole-v0: 1 episode, return mean 20.0; 21 frames at 50 fps, GIF of ... kB)
    >>> animation._repr_html_().startswith('<img src="data:image/gif;base64,R0lGOD')
    True
    """
    if format not in MIME_TYPES:
        raise ValueError(f"format must be 'gif' or 'mp4', got {format!r}")
    _check_count("episodes", episodes)
    if max_steps is not None:
        _check_count("max_steps", max_steps)
    policy, env_id = _policy_and_env_id(source, env, checkpoint)
    if isinstance(env, gym.Env):
        if grid is not None:
            raise ValueError("grid= makes its own vector env: give the env id, not an env")
        if env_kwargs:
            raise ValueError("env_kwargs are for an env id; this env is already made")
        limited = env if max_steps is None else gym.wrappers.TimeLimit(env, max_steps)  # closing it would close env
        return _animate(policy, limited, env_id, episodes, seed, max_steps, None, format)
    if env_id is None:
        raise ValueError(f"{source!r} brings no env: give one, e.g. show(policy, 'ContinuousCartPole-v0')")
    shape = None if grid is None else parse_grid(grid)
    kwargs = dict(env_kwargs or {})
    if max_steps is not None:
        kwargs["max_episode_steps"] = max_steps
    made: Any
    if shape is None:
        made = gym.make(env_id, render_mode="rgb_array", **kwargs)
    else:
        made = gym.make_vec(env_id, num_envs=shape[0] * shape[1], render_mode="rgb_array", **kwargs)
    try:
        return _animate(policy, made, env_id, episodes, seed, max_steps, shape, format)
    finally:
        made.close()


def _policy_and_env_id(source: Any, env: str | gym.Env | None, checkpoint: str) -> tuple[Any, str | None]:
    """The policy to play (scripted ones are built later, for the env's action space) and the env id, if known."""
    env_id = env.spec.id if isinstance(env, gym.Env) and env.spec is not None else env
    if isinstance(env, gym.Env) and env_id is None:
        env_id = type(env.unwrapped).__name__
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        from baselines.runs import load_run_policy, read_run_config

        run_config = read_run_config(source)
        if env_id is None:
            env_id = _run_env_id(run_config, source)
        return load_run_policy(source, checkpoint), env_id
    if isinstance(source, str) and source in SCRIPTED_POLICIES:
        return source, env_id
    if isinstance(source, (str, os.PathLike)):
        raise ValueError(
            f"{str(source)!r} is neither a run directory nor a scripted policy ({', '.join(SCRIPTED_POLICIES)})"
        )
    if hasattr(source, "predict"):
        return source, env_id
    if hasattr(source, "best_policy"):  # a TrainResult: which of its two policies is the caller's choice
        raise TypeError("show() takes a policy: pass result.best_policy (or result.policy, the last one)")
    if callable(source):
        return _FunctionPolicy(source), env_id
    raise TypeError(
        f"show() needs a run directory, a policy with predict(obs, deterministic=True), a function obs -> action "
        f"or one of {', '.join(SCRIPTED_POLICIES)}; got {type(source).__name__}"
    )


def _run_env_id(run_config: dict[str, Any], run_dir: str | os.PathLike[str]) -> str:
    """The run's env id, if registered: a run directory never imports the package that registers a foreign env."""
    name = run_config["env_id"].rpartition(":")[2]
    if name not in gym.registry:
        package = run_config.get("gym_package") or run_config["env_id"].rpartition(":")[0]
        hint = f"import {package} first" if package else "register it first"
        raise ValueError(f"run {run_dir}: env id {name!r} is not registered; {hint} (a run directory imports no code)")
    return name


class _FunctionPolicy:
    """SB3's ``predict`` around a plain function of the observation(s)."""

    def __init__(self, function: Callable[[np.ndarray], Any]) -> None:
        self.function = function

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        return np.asarray(self.function(observation)), None


def _animate(
    policy: Any,
    env: Any,
    env_id: str,
    episodes: int,
    seed: int | None,
    max_steps: int | None,
    grid: tuple[int, int] | None,
    format: Literal["gif", "mp4"],
) -> Animation:
    tiles = 1 if grid is None else grid[0] * grid[1]
    space = env.action_space if grid is None else env.single_action_space
    if isinstance(policy, str):
        policy = ScriptedPolicy(policy, space, seed=seed)
    _check_budget(env, episodes, tiles, max_steps)
    frames: Iterator[RolloutFrame | GridFrame]
    if grid is None:
        frames = rollout_frames(policy, env, episodes, seed)
    else:
        frames = grid_frames(policy, env, grid[0], grid[1], episodes, seed)
    fps = float(env.metadata.get("render_fps") or 50)
    returns: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cartpole-show-") as folder:
        path = Path(folder, f"rollout.{format}")
        count = write_video(path, _images(frames, returns), fps)
        data = read_bytes(path, ANIMATION_BYTES, "animation", follow_symlinks=False)
    return Animation(data, format, env_id, count, fps, tuple(returns))


def _check_budget(env: Any, episodes: int, tiles: int, max_steps: int | None) -> None:
    """Refuse, before rendering, an animation that could exceed ``MAX_TILE_FRAMES``."""
    spec = getattr(env, "spec", None)
    limit = max_steps or getattr(spec, "max_episode_steps", None)
    if limit is None:
        raise ValueError("this env has no time limit: pass max_steps= so the animation has an end")
    most = episodes * (limit + 1) * tiles
    if most > MAX_TILE_FRAMES:
        raise ValueError(
            f"{episodes} episode(s) of up to {limit} steps{f' on {tiles} tiles' if tiles > 1 else ''} could make "
            f"{most} frames, over the {MAX_TILE_FRAMES} shown inline; pass fewer episodes or max_steps=, or write a "
            f"file with `cartpole-baselines render --out`"
        )


def _images(frames: Iterable[RolloutFrame | GridFrame], returns: list[float]) -> Iterator[np.ndarray]:
    """The frames' images; the returns of the episodes that end go to ``returns`` on the way."""
    for frame in frames:
        returns.extend(frame.finished_returns)
        yield frame.image


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
