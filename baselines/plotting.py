"""Figures from CSV files alone: a comparison's two (``results.csv`` and ``learning_curves.csv``), and one run
directory's learning curve (``learning_curve.png`` from its ``metrics.csv``, drawn as a comparison of one seed).

``learning_curves.png``: one column per env; the top row plots evaluation return against env steps, the bottom row
against wall-clock seconds. Per algorithm (one colour each, the same in every panel and figure): the interquartile
mean (IQM) over seeds and its 95 % bootstrap band (``baselines.stats``). Seeds are evaluated at slightly different
steps, so each seed's curve is interpolated linearly onto a common log-spaced grid that starts where every seed has
been evaluated; a run that stopped (solved, or out of budget) keeps its last evaluation from there on. The env's
reward threshold is drawn as a dashed line.

``statistics.png``: one column per env; per algorithm the IQM of the test return and of the env steps to solve
(unsolved runs at their budget), each with its 95 % bootstrap interval, and the performance profile: the fraction
of runs whose test return reaches each score.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.bounded_read import CURVES_CSV_BYTES, METRICS_CSV_BYTES, RESULTS_CSV_BYTES, FileRefused, read_csv

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RESULTS_CSV = "results.csv"
CURVES_CSV = "learning_curves.csv"
CURVES_PNG = "learning_curves.png"
STATISTICS_PNG = "statistics.png"
IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg")
RUN_CURVE_PNG = "learning_curve.png"  # of one run directory
GRID_POINTS = 200
MAX_ENVS = 16  # one 6.5-inch column each: 16 make a figure of about 11,000 pixels across
PROFILE_POINTS = 200
X_AXES = (("env_steps", "env steps"), ("wall_seconds", "wall-clock seconds (training and evaluation)"))
DENSE_TICK_DECADES = 3  # a log axis over more decades is labelled at the powers of ten only
TITLE_CHARS_PER_INCH = 10  # of the 12-point suptitle: where its lines are broken


class PlotError(ValueError):
    """Missing or malformed CSV files; the message names the file."""


def plot_directory(root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Draw ``root/learning_curves.png`` (or ``out``) and ``root/statistics.png`` (or ``out``'s stem with
    ``_statistics``) from ``root``'s CSV files; returns both paths.

    ``OSError`` (a full or read-only disk) propagates; the images are written atomically, old ones stay intact.
    """
    root = Path(root)
    inputs = (root / RESULTS_CSV, root / CURVES_CSV)
    curves_path = Path(out) if out is not None else root / CURVES_PNG
    statistics_path = (
        curves_path.with_name(f"{curves_path.stem}_statistics{curves_path.suffix}")
        if out is not None
        else root / STATISTICS_PNG
    )
    for path in (curves_path, statistics_path):
        check_image_path(path, inputs)
    results = _read_csv(inputs[0], ("algo", "env_id", "seed", "status", "reward_threshold"), RESULTS_CSV_BYTES)
    curve_columns = ("algo", "env_id", "seed", "env_steps", "wall_seconds", "eval_return_mean")
    curves = _read_csv(inputs[1], curve_columns, CURVES_CSV_BYTES)
    plot_learning_curves(results, curves, curves_path)
    plot_statistics(results, statistics_path)
    return curves_path, statistics_path


def check_image_path(path: Path, inputs: Sequence[Path]) -> None:
    """Refuse to write an image over anything but an image: a wrong suffix, a folder, or one of the plot's inputs."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise PlotError(f"output {path} is not an image path; give a name ending in {', '.join(IMAGE_SUFFIXES)}")
    if path.is_dir():
        raise PlotError(f"output {path} is a directory; give an image file name")
    if any(path.resolve() == source.resolve() for source in inputs):
        raise PlotError(f"output {path} is an input of the plot; give another file name")


def plot_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Draw one run directory's learning curve (``run_dir/learning_curve.png`` or ``out``) from its files alone."""
    from baselines.runs import METRICS_FILE, RunError, read_run_config, read_summary

    run_dir = Path(run_dir)
    try:
        run_config, summary = read_run_config(run_dir), read_summary(run_dir)
    except RunError as error:
        raise PlotError(str(error)) from error
    path = Path(out) if out is not None else run_dir / RUN_CURVE_PNG
    check_image_path(path, [run_dir / METRICS_FILE])
    run = {"algo": run_config["algo"], "env_id": run_config["env_id"], "seed": str(summary.get("seed", ""))}
    metrics = _read_csv(run_dir / METRICS_FILE, ("env_steps", "wall_seconds", "eval_return_mean"), METRICS_CSV_BYTES)
    if not metrics:
        raise PlotError(f"{run_dir / METRICS_FILE} has no evaluations yet")
    threshold = summary.get("reward_threshold")
    results = [
        {**run, "status": summary.get("status", ""), "reward_threshold": "" if threshold is None else str(threshold)}
    ]
    title = f"{run['algo']} on {run['env_id']}, seed {run['seed']}: curve evaluations"
    plot_learning_curves(results, [{**run, **row} for row in metrics], path, title)
    return path


def _read_csv(path: Path, required: Sequence[str], cap: int) -> list[dict[str, str]]:
    if not path.exists() and not path.is_symlink():
        raise PlotError(f"{path} does not exist; run 'cartpole-baselines compare' into this directory first")
    try:
        reader = read_csv(path, cap, "CSV file")
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise PlotError(f"{path} lacks the column(s) {', '.join(missing)}")
        rows = []
        for row in reader:
            if None in row or None in row.values():  # DictReader's marks of a short or long row
                raise PlotError(f"{path} line {reader.line_num} is cut short or has extra fields")
            rows.append(row)
        return rows
    except FileRefused as error:
        raise PlotError(str(error)) from None
    except csv.Error as error:
        raise PlotError(f"{path} is unreadable: {error}") from error


def plot_learning_curves(
    results: list[dict[str, str]], curves: list[dict[str, str]], out: Path, title: str | None = None
) -> None:
    """Evaluation return against env steps and wall seconds; ``title`` replaces the one describing seeds."""
    plt, envs, algos, colours, thresholds = _figure_parts(results)
    series = _series(curves)
    seeds = len({row["seed"] for row in results})

    figure, axes = plt.subplots(2, len(envs), figsize=(6.5 * len(envs), 9), squeeze=False, constrained_layout=True)
    for column, env_id in enumerate(envs):
        for row, (x_key, x_label) in enumerate(X_AXES):
            ax = axes[row][column]
            for algo in algos:
                runs = series.get((algo, env_id), [])
                if runs:
                    _draw_iqm_band(ax, [(run[x_key], run["eval_return_mean"]) for run in runs], colours[algo], algo)
            if env_id in thresholds:
                ax.axhline(thresholds[env_id], color="black", linestyle="--", linewidth=1, label="solved threshold")
            _log_x_axis(ax)
            low, high = ax.get_ylim()
            ax.set_ylim(min(0.0, low), max(high, thresholds.get(env_id, high) * 1.08))  # threshold never at the edge
            ax.set_xlabel(x_label)
            ax.set_ylabel("evaluation return")
            ax.set_title(env_id if row == 0 else f"{env_id}, against time")
            ax.grid(True, which="major", alpha=0.3)
    _legend(figure, plt, algos, colours)
    wrapped_title(
        figure,
        title
        or f"Learning curves: interquartile mean and its 95 % bootstrap band over up to {seeds} seed(s) "
        "(deterministic evaluation episodes)",
    )
    save_figure(figure, out)


def _figure_parts(results: list[dict[str, str]]) -> tuple[Any, list[str], list[str], dict[str, Any], dict[str, float]]:
    """pyplot (headless), the envs and algorithms in first-seen order, one colour per algorithm, the thresholds."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(row["env_id"] for row in results))
    algos = list(dict.fromkeys(row["algo"] for row in results))
    if not envs:
        raise PlotError("results.csv has no runs to plot")
    if len(envs) > MAX_ENVS:
        raise PlotError(
            f"results.csv holds {len(envs)} env ids; a figure draws at most {MAX_ENVS} (one column each): "
            "compare fewer envs per output directory"
        )
    colours = {algo: plt.get_cmap("tab10")(index % 10) for index, algo in enumerate(algos)}
    return plt, envs, algos, colours, _thresholds(results)


def _log_x_axis(ax: Axes) -> None:
    """A log x axis in plain numbers (5k, 20M), labelled at 1, 2 and 5 times each power of ten, or at the powers
    alone when the data span more than ``DENSE_TICK_DECADES`` (the labels would run into each other). Call it after
    drawing: it reads the axis' data limits."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    low, high = ax.get_xlim()
    dense = low > 0 and np.log10(high / low) <= DENSE_TICK_DECADES
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if dense else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(_tick_label))
    ax.xaxis.set_minor_formatter(NullFormatter())  # log axes label minor ticks too, and they collide


def _legend(figure: Any, plt: Any, algos: list[str], colours: dict[str, Any]) -> None:
    handles = [plt.Line2D([], [], color=colours[algo], linewidth=2, label=algo) for algo in algos]
    handles.append(plt.Line2D([], [], color="black", linestyle="--", linewidth=1, label="solved threshold"))
    figure.legend(handles=handles, loc="outside right center", title="algorithm")


def save_figure(figure: Any, out: Path) -> None:
    """Write ``figure`` atomically in the format ``out``'s suffix names; the figure is closed either way."""
    import matplotlib.pyplot as plt

    from baselines.atomic import atomic_path

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as temp:
            figure.savefig(temp, dpi=110, format=out.suffix.lower().lstrip("."))
    finally:
        plt.close(figure)


def plot_statistics(results: list[dict[str, str]], out: Path) -> None:
    """Per env: IQM [95 % CI] of the test return and of the env steps to solve, and the performance profile."""
    from baselines.stats import performance_profile, summarise_runs

    plt, envs, algos, colours, thresholds = _figure_parts(results)
    outcomes = _outcomes(results)
    figure, axes = plt.subplots(3, len(envs), figsize=(6.5 * len(envs), 11), squeeze=False, constrained_layout=True)
    for column, env_id in enumerate(envs):
        present = [algo for algo in algos if outcomes.get((algo, env_id))]
        summaries = {algo: summarise_runs(outcomes[(algo, env_id)]) for algo in present}
        test_ax, steps_ax, profile_ax = (axes[row][column] for row in range(3))
        for position, algo in enumerate(present):
            summary = summaries[algo]
            for ax, interval in ((test_ax, summary.test_return), (steps_ax, summary.env_steps_to_solve)):
                if interval is not None:
                    error = [[interval.value - interval.low], [interval.high - interval.value]]
                    ax.errorbar(interval.value, position, xerr=error, fmt="o", color=colours[algo], capsize=4)
            scores = [run.test_return for run in outcomes[(algo, env_id)] if run.test_return is not None]
            if scores:
                top = max(max(scores), thresholds.get(env_id, 0.0)) * 1.02
                taus = np.linspace(0.0, max(top, 1.0), PROFILE_POINTS)
                profile_ax.plot(taus, performance_profile(scores, taus), color=colours[algo], drawstyle="steps-post")
        for ax, label in (
            (test_ax, "test return"),
            (steps_ax, "env steps to solve\n(an unsolved run counts at its budget)"),
        ):
            ax.set_yticks(range(len(present)), present)
            ax.set_ylim(-0.5, max(len(present), 1) - 0.5)
            ax.invert_yaxis()
            ax.set_xlabel(f"IQM and 95 % bootstrap CI of the {label}")
            ax.grid(True, axis="x", alpha=0.3)
        _log_x_axis(steps_ax)
        if env_id in thresholds:
            for ax in (test_ax, profile_ax):
                ax.axvline(thresholds[env_id], color="black", linestyle="--", linewidth=1)
        test_ax.set_title(env_id)
        profile_ax.set_xlabel("test return tau")
        profile_ax.set_ylabel("fraction of runs with test return >= tau")
        profile_ax.set_ylim(-0.02, 1.02)
        test_returns = [run.test_return for algo in present for run in outcomes[(algo, env_id)]]
        shown = [value for value in test_returns if value is not None]
        if shown:  # zoom onto the scores: runs that all pass the threshold would crowd into its last few percent
            profile_ax.set_xlim(0.95 * min(*shown, thresholds.get(env_id, min(shown))), 1.02 * max(shown))
        profile_ax.grid(True, alpha=0.3)
    _legend(figure, plt, algos, colours)
    wrapped_title(
        figure, "Over seeds: interquartile means with 95 % percentile bootstrap intervals, performance profiles"
    )
    save_figure(figure, out)


def _outcomes(results: list[dict[str, str]]) -> dict[tuple[str, str], list[Any]]:
    """Per (algo, env): the finished runs' numbers; a results.csv without test columns gives no test returns."""
    from baselines.stats import RunOutcome

    outcomes: dict[tuple[str, str], list[Any]] = {}
    for row in results:
        if row["status"] != "finished":
            continue
        steps = _optional(row, "env_steps")
        budget = _optional(row, "total_steps")
        outcomes.setdefault((row["algo"], row["env_id"]), []).append(
            RunOutcome(
                test_return=_optional(row, "test_return_mean"),
                solved_env_steps=_optional(row, "solved_env_steps"),
                solved_wall_seconds=_optional(row, "solved_wall_seconds"),
                budget_env_steps=budget if budget is not None else (steps or 0.0),
                wall_seconds=_optional(row, "wall_seconds") or 0.0,
            )
        )
    return outcomes


def _optional(row: dict[str, str], column: str) -> float | None:
    text = row.get(column) or ""
    return _number(text, RESULTS_CSV, column) if text else None


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
    except (TypeError, ValueError):
        raise PlotError(f"{file}: column {column} holds {text!r}, not a number") from None
    if not np.isfinite(value):
        raise PlotError(f"{file}: column {column} holds {text!r}")
    return value


def _draw_iqm_band(ax: Axes, runs: list[tuple[np.ndarray, np.ndarray]], colour: Any, label: str) -> None:
    """IQM line and 95 % bootstrap band of the seeds' curves on a common log grid."""
    from baselines.stats import bootstrap_iqm

    first = max(max(float(x[0]) for x, _ in runs), 1e-3)  # every seed evaluated; log axis: 0 cannot be drawn
    last = max(float(x[-1]) for x, _ in runs)
    grid = np.array([first]) if last <= first else np.geomspace(first, last, GRID_POINTS)
    stacked = np.stack([_on_grid(np.maximum(x, 1e-3), y, grid) for x, y in runs])
    middle, low, high = bootstrap_iqm(stacked)
    ax.plot(grid, middle, color=colour, linewidth=2, label=label)
    # where the runs end (most stop when solved): also makes a run solved at its first evaluation visible
    ax.plot(grid[-1], middle[-1], color=colour, marker="o", markersize=5)
    ax.fill_between(grid, low, high, color=colour, alpha=0.2, linewidth=0)


def _tick_label(value: float, _position: int) -> str:
    """1000 -> "1k", 2e7 -> "20M", 0.5 -> "0.5": short on a log axis spanning 0.1 s to 100M steps."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def wrapped_title(figure: Any, text: str) -> None:
    """``figure.suptitle(text)``, broken into lines that fit the figure's width (one env column is narrow)."""
    import textwrap

    figure.suptitle(textwrap.fill(text, width=max(40, int(TITLE_CHARS_PER_INCH * figure.get_figwidth()))))


def _on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``y`` interpolated at ``grid``; NaN before the first point, the last value after the last one."""
    return np.interp(grid, x, y, left=np.nan, right=float(y[-1]))
