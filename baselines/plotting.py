"""``learning_curves.png`` from a comparison's CSV files alone (``results.csv`` and ``learning_curves.csv``).

One column per env; the top row plots evaluation return against env steps, the bottom row against wall-clock
seconds. Per algorithm (one colour each, the same in every panel): the median over seeds and the inter-quartile
band. Seeds are evaluated at slightly different steps, so each seed's curve is interpolated linearly onto a common
log-spaced grid; a run that stopped (solved, or out of budget) keeps its last evaluation from there on, and a grid
point before a seed's first evaluation counts for the seeds evaluated by then. The env's reward threshold is drawn
as a dashed line.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RESULTS_CSV = "results.csv"
CURVES_CSV = "learning_curves.csv"
CURVES_PNG = "learning_curves.png"
GRID_POINTS = 200
X_AXES = (("env_steps", "env steps"), ("wall_seconds", "wall-clock seconds (training and evaluation)"))


class PlotError(ValueError):
    """Missing or malformed CSV files; the message names the file."""


def plot_directory(root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Draw ``root/learning_curves.png`` (or ``out``) from ``root``'s CSV files; returns the image's path."""
    root = Path(root)
    results = _read_csv(root / RESULTS_CSV, ("algo", "env_id", "seed", "reward_threshold"))
    curves = _read_csv(root / CURVES_CSV, ("algo", "env_id", "seed", "env_steps", "wall_seconds", "eval_return_mean"))
    path = Path(out) if out is not None else root / CURVES_PNG
    plot_learning_curves(results, curves, path)
    return path


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [column for column in required if column not in (reader.fieldnames or [])]
            if missing:
                raise PlotError(f"{path} lacks the column(s) {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError:
        raise PlotError(f"{path} does not exist; run 'cartpole-baselines compare' into this directory first") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PlotError(f"{path} is unreadable: {error}") from error


def plot_learning_curves(results: list[dict[str, str]], curves: list[dict[str, str]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    envs = list(dict.fromkeys(row["env_id"] for row in results))
    algos = list(dict.fromkeys(row["algo"] for row in results))
    if not envs:
        raise PlotError("results.csv has no runs to plot")
    colours = {algo: plt.get_cmap("tab10")(index % 10) for index, algo in enumerate(algos)}
    thresholds = _thresholds(results)
    series = _series(curves)
    seeds = len({row["seed"] for row in results})

    figure, axes = plt.subplots(2, len(envs), figsize=(6.5 * len(envs), 9), squeeze=False, constrained_layout=True)
    for column, env_id in enumerate(envs):
        for row, (x_key, x_label) in enumerate(X_AXES):
            ax = axes[row][column]
            for algo in algos:
                runs = series.get((algo, env_id), [])
                if runs:
                    _draw_median_band(ax, [(run[x_key], run["eval_return_mean"]) for run in runs], colours[algo], algo)
            if env_id in thresholds:
                ax.axhline(thresholds[env_id], color="black", linestyle="--", linewidth=1, label="solved threshold")
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(_tick_label))
            ax.xaxis.set_minor_formatter(NullFormatter())  # log axes label minor ticks too, and they collide
            low, high = ax.get_ylim()
            ax.set_ylim(min(0.0, low), max(high, thresholds.get(env_id, high) * 1.08))  # threshold never at the edge
            ax.set_xlabel(x_label)
            ax.set_ylabel("evaluation return")
            ax.set_title(env_id if row == 0 else f"{env_id}, against time")
            ax.grid(True, which="major", alpha=0.3)
    handles = [plt.Line2D([], [], color=colours[algo], linewidth=2, label=algo) for algo in algos]
    handles.append(plt.Line2D([], [], color="black", linestyle="--", linewidth=1, label="solved threshold"))
    figure.legend(handles=handles, loc="outside right center", title="algorithm")
    figure.suptitle(
        f"Learning curves: median and inter-quartile range over up to {seeds} seed(s) "
        "(deterministic evaluation episodes)"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    from baselines.atomic import atomic_path

    with atomic_path(out) as temp:
        figure.savefig(temp, dpi=110, format="png")
    plt.close(figure)


def _thresholds(results: list[dict[str, str]]) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for row in results:
        if row["reward_threshold"] and row["env_id"] not in thresholds:
            thresholds[row["env_id"]] = _number(row["reward_threshold"], RESULTS_CSV, "reward_threshold")
    return thresholds


def _series(curves: list[dict[str, str]]) -> dict[tuple[str, str], list[dict[str, np.ndarray]]]:
    """Per (algo, env): one dict of arrays per seed, sorted by env steps."""
    by_run: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in curves:
        by_run.setdefault((row["algo"], row["env_id"], row["seed"]), []).append(row)
    series: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    for (algo, env_id, _), rows in by_run.items():
        arrays = {
            key: np.array([_number(row[key], CURVES_CSV, key) for row in rows], dtype=np.float64)
            for key in ("env_steps", "wall_seconds", "eval_return_mean")
        }
        order = np.argsort(arrays["env_steps"], kind="stable")
        series.setdefault((algo, env_id), []).append({key: values[order] for key, values in arrays.items()})
    return series


def _number(text: str, file: str, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PlotError(f"{file}: column {column} holds {text!r}, not a number") from None
    if not np.isfinite(value):
        raise PlotError(f"{file}: column {column} holds {text!r}")
    return value


def _draw_median_band(ax: Axes, runs: list[tuple[np.ndarray, np.ndarray]], colour: Any, label: str) -> None:
    """Median line and 25-75 % band of the seeds' curves on a common log grid."""
    first = min(float(x[0]) for x, _ in runs)
    last = max(float(x[-1]) for x, _ in runs)
    first = max(first, 1e-3)  # log axis: a wall time of 0 cannot be drawn
    grid = np.array([first]) if last <= first else np.geomspace(first, last, GRID_POINTS)
    stacked = np.stack([_on_grid(np.maximum(x, 1e-3), y, grid) for x, y in runs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any seed's first evaluation
        low, median, high = np.nanpercentile(stacked, [25, 50, 75], axis=0)
    ax.plot(grid, median, color=colour, linewidth=2, label=label)
    # where the runs end (most stop when solved): also makes a run solved at its first evaluation visible
    ax.plot(grid[-1], median[-1], color=colour, marker="o", markersize=5)
    ax.fill_between(grid, low, high, color=colour, alpha=0.2, linewidth=0)


def _tick_label(value: float, _position: int) -> str:
    """1000 -> "1k", 0.5 -> "0.5": readable on a log axis spanning 0.1 s to 500k steps."""
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``y`` interpolated at ``grid``; NaN before the first point, the last value after the last one."""
    return np.interp(grid, x, y, left=np.nan, right=float(y[-1]))
