"""Figures of robustness grids (``baselines.robustness``): a curve of the mean return for one varied parameter, a
heatmap for two, the env's nominal physics marked; and one figure with several runs on the same grid.

Curves show the mean return over the grid point's episodes, with a band from the mean minus to the mean plus one
standard deviation (clipped to the episodes' minimum and maximum). Heatmaps share one colour scale, from 0 to the
highest mean of the figure (at least the reward threshold), so that two runs' panels compare by colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.plotting import save_figure, wrapped_title
from baselines.robustness import Axis

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ANNOTATED_CELLS = 100  # heatmaps with at most this many cells print each cell's mean
HEATMAP_COLUMNS = 3  # runs' heatmaps per row of the figure


def plot_runs(
    labels: Sequence[str],
    axes: Sequence[Axis],
    rows: Sequence[Sequence[dict[str, Any]]],
    nominal: dict[str, float],
    threshold: float | None,
    out: Path,
) -> None:
    """One figure of ``rows[i]`` (``grid_rows`` of the run ``labels[i]``): curves in one panel, or a heatmap per run.

    ``nominal`` holds the nominal value of each varied parameter; ``threshold`` the env's reward threshold or None.
    """
    plt = _pyplot()
    if len(axes) == 1:
        figure, ax = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
        colours = [plt.get_cmap("tab10")(index % 10) for index in range(len(labels))]
        for label, run_rows, colour in zip(labels, rows, colours, strict=True):
            _draw_curve(ax, axes[0], run_rows, colour, label)
        _mark_nominal_value(ax, axes[0].name, nominal[axes[0].name])
        if threshold is not None:
            ax.axhline(threshold, color="black", linestyle="--", linewidth=1, label="reward threshold")
        ax.set_xlabel(axes[0].name)
        ax.set_ylabel("mean return")
        ax.set_ylim(bottom=0.0)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    else:
        top = max([float(row["return_mean"]) for run_rows in rows for row in run_rows] + [threshold or 0.0, 1.0])
        columns = min(len(labels), HEATMAP_COLUMNS)
        lines = -(-len(labels) // columns)
        figure, panels = plt.subplots(
            lines, columns, figsize=(5.5 * columns + 1.0, 4.4 * lines + 0.4), squeeze=False, constrained_layout=True
        )
        for ax in panels.flat[len(labels) :]:
            ax.set_visible(False)
        image = None
        for ax, label, run_rows in zip(panels.flat, labels, rows, strict=False):
            image = _draw_heatmap(ax, axes, run_rows, top)
            ax.plot(
                nominal[axes[0].name],
                nominal[axes[1].name],
                marker="o",
                markersize=18,
                markerfacecolor="none",
                markeredgecolor="red",
                markeredgewidth=2,
                linestyle="none",
            )
            ax.set_title(label, fontsize="medium")
        figure.colorbar(image, ax=panels.ravel().tolist(), label="mean return")
    episodes = rows[0][0]["episodes"] if rows and rows[0] else 0
    title = f"Return under perturbed physics: mean of {episodes} deterministic episodes per grid point"
    wrapped_title(figure, title if len(axes) == 1 else f"{title}; red ring: the nominal physics")
    save_figure(figure, out)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    return plt


def _draw_curve(ax: Axes, axis: Axis, rows: Sequence[dict[str, Any]], colour: Any, label: str) -> None:
    x = np.array([row[axis.name] for row in rows], dtype=np.float64)
    mean, std, low, high = (
        np.array([row[key] for row in rows], dtype=np.float64)
        for key in ("return_mean", "return_std", "return_min", "return_max")
    )
    ax.plot(x, mean, color=colour, marker="o", markersize=4, linewidth=2, label=label)
    ax.fill_between(x, np.maximum(mean - std, low), np.minimum(mean + std, high), color=colour, alpha=0.15)


def _mark_nominal_value(ax: Axes, name: str, value: float) -> None:
    ax.axvline(value, color="grey", linestyle=":", linewidth=1.5, label=f"nominal {name} = {value:g}")


def _draw_heatmap(ax: Axes, axes: Sequence[Axis], rows: Sequence[dict[str, Any]], top: float) -> Any:
    """The mean return on the grid, rows of the image along the second axis; cells centred on the grid values."""
    first, second = axes
    means = np.array([row["return_mean"] for row in rows], dtype=np.float64).reshape(
        len(first.values), len(second.values)
    )  # grid_rows' order: the last axis varies fastest
    image = ax.imshow(
        means.T,
        origin="lower",
        aspect="auto",
        extent=(*_edges(first.values), *_edges(second.values)),
        vmin=0.0,
        vmax=top,
        cmap="viridis",
        interpolation="nearest",
    )
    if means.size <= ANNOTATED_CELLS:
        for (i, x), (j, y) in ((a, b) for a in enumerate(first.values) for b in enumerate(second.values)):
            shade = "black" if means[i, j] > 0.6 * top else "white"
            ax.text(x, y, f"{means[i, j]:.0f}", ha="center", va="center", fontsize="x-small", color=shade)
    ax.set_xlabel(first.name)
    ax.set_ylabel(second.name)
    return image


def _edges(values: Sequence[float]) -> tuple[float, float]:
    """The outer edges of evenly spaced cells centred on ``values``."""
    half = (values[-1] - values[0]) / (len(values) - 1) / 2.0
    return values[0] - half, values[-1] + half
