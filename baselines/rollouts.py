"""Rollouts to watch: frames of a policy playing the env, each with an overlay (episode, step, return so far, action
and force, and on an episode's last frame why it ended), from one env or tiled from R x C sub-envs of a vector env.

A policy is anything with SB3's ``predict(obs, deterministic=True)`` (ours, SB3's) or a ``ScriptedPolicy``. The
frames are generated lazily, one per step, so a caller can show them in a window and stream them to a video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from baselines.evaluation import Policy, predict_finite
from continuous_cartpole.rendering import FrameWindow, overlay_text
from continuous_cartpole.tasks import Task
from continuous_cartpole.tasks import end_reason as task_end_reason

SCRIPTED_POLICIES = ("random", "zero")
MAX_GRID_TILES = 64  # 8 x 8 tiles of 600 x 400 are already a 4800 x 3200 video
_TILE_EDGE = (170, 170, 170)  # a grey line around each tile of a grid
_FINISHED_FADE = 0.55  # a finished tile is blended this far towards white, so it cannot pass for a running one


class ScriptedPolicy:
    """``random``: uniform actions from its own seeded generator; ``zero``: action 0 on every step (no force in the
    continuous env, a push to the left in the discrete one). For one observation or a batch, like SB3's ``predict``.
    """

    def __init__(self, name: str, action_space: spaces.Space, seed: int | None = None) -> None:
        if name not in SCRIPTED_POLICIES:
            raise ValueError(f"unknown scripted policy {name!r}; known: {', '.join(SCRIPTED_POLICIES)}")
        if not isinstance(action_space, (spaces.Box, spaces.Discrete)):
            raise TypeError(f"scripted policies need a Box or Discrete action space, got {action_space}")
        self.name = name
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, None]:
        batch_shape = np.shape(observation)[:-1]  # () for one flat observation, (N,) for a batch
        space = self.action_space
        if isinstance(space, spaces.Box):
            shape = batch_shape + space.shape
            if self.name == "zero":
                return np.zeros(shape, space.dtype), None
            return self.rng.uniform(space.low, space.high, size=shape).astype(space.dtype), None
        assert isinstance(space, spaces.Discrete)
        if self.name == "zero":
            return np.full(batch_shape, space.start, np.int64), None
        return self.rng.integers(space.start, space.start + space.n, size=batch_shape, dtype=np.int64), None


@dataclass(frozen=True)
class RolloutFrame:
    image: np.ndarray  # (H, W, 3) uint8 with the overlay
    episode: int  # from 1
    step: int  # 0 shows the start state; step t the state after the t-th action
    episode_return: float  # so far
    done: bool  # the last frame of its episode

    @property
    def finished_returns(self) -> tuple[float, ...]:
        return (self.episode_return,) if self.done else ()


@dataclass(frozen=True)
class GridFrame:
    image: np.ndarray  # (rows * H, cols * W, 3) uint8
    finished_returns: tuple[float, ...]  # returns of the episodes whose last frame this is


def rollout_frames(policy: Policy, env: gym.Env, episodes: int = 1, seed: int | None = 0) -> Iterator[RolloutFrame]:
    """Frames of ``episodes`` episodes in ``env`` (made with ``render_mode="rgb_array"``): the start state, then one
    frame per step, so an episode of T steps gives T + 1 frames. The first reset uses ``seed``, later ones continue
    its random stream. The caller closes ``env``."""
    _check_count("episodes", episodes)
    if env.render_mode != "rgb_array":
        raise ValueError(f'rollout frames need an env made with render_mode="rgb_array", got {env.render_mode!r}')
    for episode in range(1, episodes + 1):
        obs, _ = env.reset(seed=seed if episode == 1 else None)
        step, episode_return, action, done, terminated = 0, 0.0, None, False, False
        while True:
            force = applied_force(env.unwrapped)
            lines = [
                f"episode {episode}/{episodes}   step {step}",
                f"return {episode_return:.1f}",
                describe_action(action, None if force is None or action is None else float(force)),
            ]
            if done:
                lines.append(f"ended: {end_reason(env.unwrapped, bool(terminated))}")
            yield RolloutFrame(overlay_text(_frame(env.render()), lines), episode, step, episode_return, done)
            if done:
                break
            action = predict_finite(policy, obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            step += 1
            episode_return += float(reward)
            done = bool(terminated or truncated)


def grid_frames(
    policy: Policy, envs: gym.vector.VectorEnv, rows: int, cols: int, episodes: int = 1, seed: int | None = 0
) -> Iterator[GridFrame]:
    """Frames tiling the ``rows * cols`` sub-envs of ``envs`` (``render_mode="rgb_array"``, NEXT_STEP autoreset),
    sub-env i at row i // cols, column i % cols, each with its own overlay. Every sub-env plays ``episodes``
    episodes and then holds its last frame; the frames end when the last sub-env is done. The caller closes ``envs``.
    """
    _check_grid(rows, cols)
    _check_count("episodes", episodes)
    count = rows * cols
    if envs.num_envs != count:
        raise ValueError(f"a {rows}x{cols} grid needs {count} sub-envs, the vector env has {envs.num_envs}")
    if envs.render_mode != "rgb_array":
        raise ValueError(f'grid frames need a vector env made with render_mode="rgb_array", got {envs.render_mode!r}')
    if envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP) != AutoresetMode.NEXT_STEP:
        raise ValueError(f"grid frames need NEXT_STEP autoreset, the vector env has {envs.metadata['autoreset_mode']}")

    obs, _ = envs.reset(seed=seed)
    episode = np.ones(count, dtype=np.int64)
    step = np.zeros(count, dtype=np.int64)
    returns = np.zeros(count, dtype=np.float64)
    done = np.zeros(count, dtype=bool)
    terminated = np.zeros(count, dtype=bool)
    finished = np.zeros(count, dtype=bool)  # played all its episodes: its tile holds still
    acted = np.zeros(count, dtype=bool)  # took an action in this episode (the start frame shows none)
    actions: np.ndarray | None = None
    tiles: dict[int, np.ndarray] = {}  # the latest tile of each sub-env
    while True:
        frames = envs.render()
        assert frames is not None
        forces = applied_force(envs.unwrapped)
        ended: list[float] = []
        for i in np.flatnonzero(~finished):
            action = actions[i] if actions is not None and acted[i] else None
            force = None if forces is None or action is None else float(forces[i])
            lines = [
                f"env {i}   episode {episode[i]}/{episodes}   step {step[i]}",
                f"return {returns[i]:.1f}",
                describe_action(action, force),
            ]
            if done[i]:
                lines.append(f"ended: {end_reason(envs.unwrapped, bool(terminated[i]), i)}")
                ended.append(float(returns[i]))
                finished[i] = episode[i] == episodes
                if finished[i]:
                    lines.append("FINISHED")
            tile = overlay_text(_frame(frames[i]), lines)
            tiles[i] = _with_edge(_faded(tile) if finished[i] else tile)
        yield GridFrame(_tile([tiles[i] for i in range(count)], rows, cols), tuple(ended))
        if finished.all():
            return
        actions = predict_finite(policy, obs).reshape(envs.action_space.shape)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        # NEXT_STEP autoreset: a sub-env done on the last step has now started its next episode (reward 0)
        restarted = done
        episode[restarted] += 1
        step[restarted] = 0
        returns[restarted] = 0.0
        step[~restarted] += 1
        returns += np.where(restarted, 0.0, rewards)
        acted = ~restarted
        done = terminated | truncated


class WindowClosed(Exception):
    """The window was closed, or Escape pressed, before the frames ended."""


FrameT = TypeVar("FrameT", RolloutFrame, GridFrame)


def shown(frames: Iterable[FrameT], window: FrameWindow) -> Iterator[FrameT]:
    """Pass ``frames`` through, showing each in ``window`` at its rate; ``WindowClosed`` when the user quits."""
    for frame in frames:
        window.show(frame.image)
        if any(event.quits for event in window.events()):
            raise WindowClosed("window closed before the rollout ended")
        yield frame


def describe_action(action: Any, force_newtons: float | None) -> str:
    """``"action +0.42   force +4.2 N"``: the action as the policy gave it and, where known, the force it applied."""
    if action is None:
        return "action -"
    values = np.asarray(action).ravel()
    text = " ".join(f"{value:+.2f}" if values.dtype.kind == "f" else str(int(value)) for value in values)
    return f"action {text}" if force_newtons is None else f"action {text}   force {force_newtons:+.1f} N"


def parse_grid(text: str) -> tuple[int, int]:
    """``"4x4"`` -> (4, 4): rows x columns, each at least 1, at most ``MAX_GRID_TILES`` tiles in all."""
    rows_text, sep, cols_text = text.lower().partition("x")
    if not (sep and rows_text.strip().isdigit() and cols_text.strip().isdigit()):
        raise ValueError(f"grid must look like ROWSxCOLS, e.g. 4x4, got {text!r}")
    rows, cols = int(rows_text), int(cols_text)
    _check_grid(rows, cols)
    return rows, cols


def _check_grid(rows: int, cols: int) -> None:
    if rows < 1 or cols < 1:
        raise ValueError(f"a grid needs at least 1 row and 1 column, got {rows}x{cols}")
    if rows * cols > MAX_GRID_TILES:
        raise ValueError(f"a {rows}x{cols} grid has {rows * cols} tiles; at most {MAX_GRID_TILES} are allowed")


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _frame(frame: Any) -> np.ndarray:
    if frame is None:
        raise ValueError("the env rendered no frame; make it with render_mode='rgb_array'")
    return np.asarray(frame)


def end_reason(unwrapped: Any, terminated: bool, index: int | None = None) -> str:
    """Why an episode ended, from the terminal state of ``unwrapped`` (sub-env ``index`` of a vector env): its
    task's own words (balance: the pole past the env's threshold or the cart off the track; swing-up: the cart off
    the track or the pole spinning past the limit), or the time limit. Plain "terminated" for envs that do not expose
    CartPole's ``state``, ``params`` and ``task``."""
    if not terminated:
        return "time limit"
    params = getattr(unwrapped, "params", None)
    state = getattr(unwrapped, "state", None)
    task = getattr(unwrapped, "task", None)
    if params is None or state is None or not isinstance(task, Task):
        return "terminated"
    state = np.asarray(state)
    column = state if index is None else state[:, index]
    return task_end_reason(task, params, tuple(float(value) for value in column))


def _faded(tile: np.ndarray) -> np.ndarray:
    return (tile * (1 - _FINISHED_FADE) + 255 * _FINISHED_FADE).astype(np.uint8)


def applied_force(unwrapped: Any) -> Any:
    """The last applied force in newtons (0-d, or one per sub-env) for envs that report it, as ours do; else None."""
    fraction = getattr(unwrapped, "force_fraction", None)
    params = getattr(unwrapped, "params", None)
    if fraction is None or params is None or not hasattr(params, "force_mag"):
        return None
    return np.asarray(fraction, dtype=np.float64) * params.force_mag


def _with_edge(tile: np.ndarray) -> np.ndarray:
    """Draw a 1-pixel grey line around a tile (inside it, so the grid keeps the tiles' exact size)."""
    tile[[0, -1], :] = _TILE_EDGE
    tile[:, [0, -1]] = _TILE_EDGE
    return tile


def _tile(tiles: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    return np.concatenate([np.concatenate(tiles[row * cols : (row + 1) * cols], axis=1) for row in range(rows)])
