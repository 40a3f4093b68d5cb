"""Robustness to the physics: a policy's return over a grid of perturbed cart-pole parameters.

A grid has one or two axes, each written ``NAME=LOW:HIGH:N`` on the command line: N evenly spaced values of the
physical parameter NAME from LOW to HIGH inclusive (``numpy.linspace``, inner values rounded to 12 significant
digits); the other parameters keep the env's nominal values. Every grid point plays the same ``episodes``
deterministic episodes: one vector env of that many sub-envs, reset with the same seed, so the start states are
equal at every point (common random numbers: the differences between points come from the physics alone). The
points' envs are stepped side by side, one policy call for all of them. By default the seed is the run's held-out
test seed, so the nominal point reproduces the run's test.

``grid_rows`` returns one row per grid point; ``format_grid_csv`` writes them with every float in full precision
(``repr``), so that a row's values, passed back to ``baselines.evaluation.evaluate``, give its numbers again.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.evaluation import Policy, predict_finite
from continuous_cartpole.physics import CartPoleParams

# The physical constants a grid may vary (the others are episode rules: thresholds, the failure reward).
VARIABLE_PARAMETERS = ("gravity", "masscart", "masspole", "length", "force_mag", "tau")
MAX_AXES = 2  # a curve or a heatmap
MAX_AXIS_POINTS = 64
MAX_EPISODES = 100_000  # sub-envs of one grid point's vector env: about 100 bytes each
MAX_BATCH = 65_536  # observations per policy call: grid points are played side by side up to this many sub-envs
STAT_COLUMNS = ("episodes", "seed", "return_mean", "return_std", "return_min", "return_max")


class GridError(ValueError):
    """A grid that cannot be evaluated: bad syntax, an unknown parameter, or values outside its valid range."""


@dataclass(frozen=True)
class Axis:
    """One varied parameter and its values, in increasing order."""

    name: str
    values: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> Axis:
        """``"length=0.25:2.0:8"`` -> 8 values from 0.25 to 2.0; ``GridError`` names what is wrong and the fix.

        The ends are checked against the parameter's valid range (``CartPoleParams``'s own message), so a grid is
        refused before any episode runs or any file is written.
        """
        name, sep, spec = text.partition("=")
        name = name.strip()
        parts = spec.split(":")
        if not sep or len(parts) != 3:
            raise GridError(f"--vary {text!r}: write NAME=LOW:HIGH:N, e.g. length=0.25:2.0:8")
        if name not in VARIABLE_PARAMETERS:
            raise GridError(f"--vary {text!r}: {name!r} is not a physical parameter; vary one of {_names()}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2])
        except ValueError:
            raise GridError(f"--vary {text!r}: LOW and HIGH must be numbers and N an integer") from None
        if not 2 <= count <= MAX_AXIS_POINTS:
            raise GridError(f"--vary {text!r}: N must be an integer in [2, {MAX_AXIS_POINTS}], got {count}")
        if not low < high:  # NaN fails this too
            raise GridError(f"--vary {text!r}: LOW must be below HIGH")
        for value in (low, high):  # every value between the ends is in range when the ends are
            try:
                CartPoleParams(**{name: value})
            except ValueError as error:
                raise GridError(f"--vary {text!r}: {error}") from None
        # The ends as given, the inner values rounded to 12 significant digits: 0.8, not linspace's 0.7999999999999999.
        inner = (float(f"{value:.12g}") for value in np.linspace(low, high, count)[1:-1])
        return cls(name, (low, *inner, high))


def parse_grid(texts: Sequence[str]) -> tuple[Axis, ...]:
    """The axes of ``--vary`` flags: one or two, each a different parameter."""
    if not 1 <= len(texts) <= MAX_AXES:
        raise GridError(f"give one or two --vary NAME=LOW:HIGH:N flags (a curve or a heatmap), got {len(texts)}")
    axes = tuple(Axis.parse(text) for text in texts)
    if len({axis.name for axis in axes}) < len(axes):
        raise GridError(f"--vary names {axes[0].name} twice; vary two different parameters")
    return axes


def nominal_params(env_id: str) -> CartPoleParams:
    """The physics ``gym.make(env_id)`` uses; ``GridError`` for an env without cart-pole parameters."""
    import gymnasium as gym

    try:
        env = gym.make(env_id)
    except gym.error.Error as error:  # an id whose package is not imported here
        raise GridError(f"env {env_id} cannot be made here: {error}") from error
    try:
        params = getattr(env.unwrapped, "params", None)
    finally:
        env.close()
    if not isinstance(params, CartPoleParams):
        raise GridError(f"env {env_id} has no cart-pole parameters (CartPoleParams) to vary")
    return params


def grid_points(axes: Sequence[Axis]) -> list[dict[str, float]]:
    """Every combination of the axes' values, the last axis varying fastest."""
    names = [axis.name for axis in axes]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(axis.values for axis in axes))]


def grid_rows(
    policy: Policy, env_id: str, axes: Sequence[Axis], episodes: int, seed: int, physics: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One row per grid point: the point's parameter values and the statistics of ``episodes`` deterministic
    episodes from the same start states (``seed``). ``physics`` holds further env keywords kept at every point."""
    if not 1 <= episodes <= MAX_EPISODES:
        raise GridError(f"episodes must be an integer in [1, {MAX_EPISODES}], got {episodes}")
    points = grid_points(axes)
    all_returns = evaluate_points(policy, env_id, [{**(physics or {}), **point} for point in points], episodes, seed)
    return [
        {**point, **return_statistics(returns), "episodes": episodes, "seed": seed}
        for point, returns in zip(points, all_returns, strict=True)
    ]


def evaluate_points(
    policy: Policy, env_id: str, env_kwargs: Sequence[dict[str, Any]], episodes: int, seed: int
) -> list[np.ndarray]:
    """``evaluate(policy, env_id, episodes, seed, env_kwargs=kwargs)`` for each of ``env_kwargs``, played side by
    side: one vector env per entry, all stepped together with one policy call per step for up to ``MAX_BATCH``
    observations. The episodes, and so the returns, are those of separate ``evaluate`` calls."""
    per_call = max(1, MAX_BATCH // episodes)
    returns: list[np.ndarray] = []
    for start in range(0, len(env_kwargs), per_call):
        returns += _lockstep(policy, env_id, env_kwargs[start : start + per_call], episodes, seed)
    return returns


def _lockstep(
    policy: Policy, env_id: str, env_kwargs: Sequence[dict[str, Any]], episodes: int, seed: int
) -> list[np.ndarray]:
    import gymnasium as gym

    envs: list[Any] = []
    try:
        for kwargs in env_kwargs:
            envs.append(gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point", **kwargs))
        observations = [env.reset(seed=seed)[0] for env in envs]
        returns = np.zeros((len(envs), episodes), dtype=np.float64)
        running = np.ones((len(envs), episodes), dtype=bool)
        active = list(range(len(envs)))  # the envs with an episode still running
        while active:
            actions = predict_finite(policy, np.concatenate([observations[i] for i in active]))
            actions = actions.reshape((len(active), *envs[0].action_space.shape))
            for i, action in zip(active, actions, strict=True):
                observations[i], rewards, terminated, truncated, _ = envs[i].step(action)
                returns[i] += np.where(running[i], rewards, 0.0)
                running[i] &= ~(terminated | truncated)
            active = [i for i in active if running[i].any()]
        return list(returns)
    finally:
        for env in envs:
            env.close()


def return_statistics(returns: np.ndarray) -> dict[str, float]:
    return {
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "return_min": float(np.min(returns)),
        "return_max": float(np.max(returns)),
    }


def format_grid_csv(axes: Sequence[Axis], rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV: the varied parameters' columns, then ``STAT_COLUMNS``; floats in full precision."""
    columns = (*(axis.name for axis in axes), *STAT_COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a grid value {value!r} is not finite")
        return repr(value)
    return str(value)


def _names() -> str:
    return ", ".join(VARIABLE_PARAMETERS)
