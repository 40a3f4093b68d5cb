"""The robustness summary of a comparison: every finished run's best checkpoint under a fixed set of perturbed physics.

The set (``PERTURBATIONS``): the pole's half-length (``length``) and mass (``masspole``) at 0.5x, 2x and 4x their
nominal values, and the motor force (``force_mag``) at 0.5x, one change at a time. At each, the run's best
checkpoint plays the ``TEST_EPISODES`` deterministic episodes of its held-out test (the same start states as its
test, seed ``training.test_seed``). A run's robust return is the mean over the perturbations of these episodes' mean
return; per algorithm x env, ``results.md`` reports its interquartile mean over seeds with a 95 % percentile
bootstrap interval (``baselines.stats``), and ``robustness.png`` draws the IQM at every perturbation.

Cost: 7 x 100 episodes per run, one vector env of 100 sub-envs per perturbation, stepped side by side (about 0.5 s
of CPU for a run of SB3's PPO on a 2-core machine). Each run keeps its numbers in
``RUN_DIR/robustness.json``, keyed by the SHA-256 of its best checkpoint and the perturbation set, so a resumed
comparison evaluates only the runs it has not evaluated yet.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.atomic import atomic_write_text
from baselines.bounded_read import read_bytes, read_json
from baselines.compare.plan import RunSpec
from baselines.runs import FINISHED
from baselines.stats import CONFIDENCE, bootstrap_iqm, iqm_interval

ROBUSTNESS_CSV = "robustness.csv"
ROBUSTNESS_PNG = "robustness.png"
RUN_CACHE_FILE = "robustness.json"  # in each run directory
CACHE_FORMAT = "continuous-cartpole-robustness/1"
MAX_CACHE_BYTES = 64 * 1024  # a cache holds a few dozen numbers
ROBUSTNESS_HEADING = "## Robustness to the physics"
ROBUSTNESS_COLUMNS = ("algo", "env_id", "seed", "parameter", "factor", "value", "return_mean")


@dataclass(frozen=True)
class Perturbation:
    parameter: str
    factor: float  # times the env's nominal value

    @property
    def label(self) -> str:
        return f"{self.parameter} x{self.factor:g}"


PERTURBATIONS = (
    Perturbation("length", 0.5),
    Perturbation("length", 2.0),
    Perturbation("length", 4.0),
    Perturbation("masspole", 0.5),
    Perturbation("masspole", 2.0),
    Perturbation("masspole", 4.0),
    Perturbation("force_mag", 0.5),
)


def run_robustness(run_dir: Path, env_id: str, run_seed: int) -> list[dict[str, Any]]:
    """One row per perturbation (parameter, factor, value, return_mean) for a finished run, from its cache when the
    cache describes this checkpoint, this set and this seed; else evaluated now and cached.

    ``ValueError`` (an unreadable checkpoint, an env without cart-pole parameters) and ``NonFiniteActions`` propagate.
    """
    import baselines
    from baselines.algorithms import BEST, CHECKPOINT_FILES
    from baselines.checkpoint import MAX_CHECKPOINT_BYTES
    from baselines.devices import resolve_device
    from baselines.robustness import evaluate_points, nominal_params
    from baselines.training import TEST_EPISODES, test_seed

    seed = test_seed(run_seed)
    nominal = nominal_params(env_id)
    points = [
        {"parameter": p.parameter, "factor": p.factor, "value": p.factor * getattr(nominal, p.parameter)}
        for p in PERTURBATIONS
    ]
    checkpoint = read_bytes(run_dir / CHECKPOINT_FILES[BEST], MAX_CHECKPOINT_BYTES, "checkpoint")  # or FileRefused
    key = {
        "format": CACHE_FORMAT,
        "checkpoint_sha256": hashlib.sha256(checkpoint).hexdigest(),
        "env_id": env_id,
        "episodes": TEST_EPISODES,
        "seed": seed,
    }
    cached = _read_cache(run_dir / RUN_CACHE_FILE)
    if cached is not None and {name: cached.get(name) for name in key} == key:
        rows = cached.get("points")
        if isinstance(rows, list) and len(rows) == len(points):
            means = [_cached_return(row, point) for row, point in zip(rows, points, strict=True)]
            if None not in means:  # rebuilt from the points: only a checked number comes from the file
                return [{**point, "return_mean": mean} for point, mean in zip(points, means, strict=True)]
    resolve_device("cpu")  # one torch thread: more made SB3's small networks 10x slower on a busy 2-core machine
    policy = baselines.load_policy(run_dir, BEST)
    physics = [{point["parameter"]: point["value"]} for point in points]
    returns = evaluate_points(policy, env_id, physics, TEST_EPISODES, seed)  # side by side: one policy call a step
    rows = [
        {**point, "return_mean": float(np.mean(point_returns))}
        for point, point_returns in zip(points, returns, strict=True)
    ]
    atomic_write_text(run_dir / RUN_CACHE_FILE, json.dumps({**key, "points": rows}, indent=2, allow_nan=False) + "\n")
    return rows


def _cached_return(row: Any, point: dict[str, Any]) -> float | None:
    """The cached return of ``point`` when ``row`` is that point's and holds a finite number, else None."""
    if not isinstance(row, dict) or any(row.get(key) != value for key, value in point.items()):
        return None
    mean = row.get("return_mean")
    if isinstance(mean, bool) or not isinstance(mean, (int, float)) or not math.isfinite(mean):
        return None  # JSON's true, NaN and Infinity parse as numbers here
    return float(mean)


def _read_cache(path: Path) -> dict[str, Any] | None:
    """The cache's JSON object, or None when it is missing or unusable (then the run is evaluated again)."""
    try:
        cached = read_json(path, MAX_CACHE_BYTES, "robustness cache")
    except ValueError:  # FileRefused: missing, not a regular file, too large, or not JSON
        return None
    return cached if isinstance(cached, dict) else None


def collect_robustness(root: Path, runs: Sequence[RunSpec], rows: Sequence[dict[str, Any]]) -> tuple[list, list]:
    """Robustness rows of every finished run (``ROBUSTNESS_COLUMNS``), and a note per finished run without them."""
    from baselines.evaluation import NonFiniteActions

    status = {(row["algo"], row["env_id"], row["seed"]): row["status"] for row in rows}
    found, notes = [], []
    for run in runs:
        if status.get((run.algo, run.env_id, run.seed)) != FINISHED:
            continue
        try:
            points = run_robustness(run.run_dir(root), run.env_id, run.seed)
        except (ValueError, NonFiniteActions) as error:
            notes.append(f"{run.label()}: no robustness evaluation: {error}")
            continue
        found += [{"algo": run.algo, "env_id": run.env_id, "seed": run.seed, **point} for point in points]
    return found, notes


def format_robustness_markdown(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], notes: list) -> str:
    """The section of ``results.md``: per algorithm x env, the robust return's IQM [CI] and each perturbation's IQM."""
    confidence = f"{CONFIDENCE:.0%}"
    labels = [p.label for p in PERTURBATIONS]
    lines = [
        "",
        ROBUSTNESS_HEADING,
        "",
        "Each finished run's best checkpoint plays the 100 episodes of its held-out test (the same start states) under "
        "each perturbation of the env's nominal physics, one at a time: pole half-length (length) and pole mass "
        "(masspole) at 0.5x, 2x and 4x, motor force (force_mag) at 0.5x. Robust return: a run's mean return over "
        f"these {len(PERTURBATIONS)} perturbations; interquartile mean over seeds with its {confidence} percentile "
        "bootstrap interval. Nominal: the test return's IQM. The last columns: each perturbation's IQM over seeds.",
        "",
        f"| algo | env | runs | nominal | robust return IQM [{confidence} CI] | {' | '.join(labels)} |",
        "|---|---|---|---|---|" + "---|" * len(labels),
    ]
    for (algo, env_id), scores in _scores(rows).items():
        nominal = _nominal_returns(results, algo, env_id, scores.seeds)
        nominal_cell = f"{iqm_interval(nominal).value:.1f}" if nominal else "–"
        robust = iqm_interval(scores.robust).format()
        cells = [f"{iqm_interval(column).value:.1f}" for column in scores.by_perturbation.T]
        lines.append(f"| {algo} | {env_id} | {len(scores.seeds)} | {nominal_cell} | {robust} | {' | '.join(cells)} |")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _nominal_returns(results: Sequence[dict[str, Any]], algo: str, env_id: str, seeds: list[int]) -> list[float]:
    """The test returns of the runs of ``seeds``: their return under the nominal physics."""
    return [
        row["test_return_mean"]
        for row in results
        if (row["algo"], row["env_id"]) == (algo, env_id)
        and row["seed"] in seeds
        and row["test_return_mean"] is not None
    ]


@dataclass(frozen=True)
class _GroupScores:
    seeds: list[int]
    by_perturbation: np.ndarray  # (seeds, perturbations): each run's mean return at each perturbation

    @property
    def robust(self) -> np.ndarray:
        return self.by_perturbation.mean(axis=1)


def _scores(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], _GroupScores]:
    """Per algorithm x env (first-seen order): its runs' returns, one column per perturbation of ``PERTURBATIONS``."""
    order = {(p.parameter, p.factor): index for index, p in enumerate(PERTURBATIONS)}
    table: dict[tuple[str, str], dict[int, np.ndarray]] = {}
    for row in rows:
        runs = table.setdefault((row["algo"], row["env_id"]), {})
        runs.setdefault(row["seed"], np.full(len(PERTURBATIONS), np.nan))[order[(row["parameter"], row["factor"])]] = (
            row["return_mean"]
        )
    return {group: _GroupScores(list(runs), np.stack(list(runs.values()))) for group, runs in table.items()}


def plot_robustness(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], out: Path) -> None:
    """Per env, per algorithm: the IQM over seeds and its 95 % bootstrap interval at the nominal physics (the test
    return) and at every perturbation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from baselines.plotting import save_figure, wrapped_title

    scores = _scores(rows)
    envs = list(dict.fromkeys(env_id for _, env_id in scores))
    algos = list(dict.fromkeys(algo for algo, _ in scores))
    colours = {algo: plt.get_cmap("tab10")(index % 10) for index, algo in enumerate(algos)}
    labels = ["nominal", *(p.label for p in PERTURBATIONS)]
    figure, axes = plt.subplots(
        1, max(len(envs), 1), figsize=(7.5 * max(len(envs), 1), 4.8), squeeze=False, constrained_layout=True
    )
    for ax, env_id in zip(axes[0], envs, strict=False):
        present = [algo for algo in algos if (algo, env_id) in scores]
        for position, algo in enumerate(present):
            group = scores[(algo, env_id)]
            nominal = _nominal_returns(results, algo, env_id, group.seeds) or [np.nan]
            columns = [np.asarray(nominal, dtype=np.float64)[:, None], group.by_perturbation]
            middle, low, high = (np.concatenate(parts) for parts in zip(*map(bootstrap_iqm, columns), strict=True))
            x = np.arange(len(labels)) + (position - (len(present) - 1) / 2) * 0.8 / max(len(present), 1)
            ax.errorbar(
                x, middle, yerr=[middle - low, high - middle], fmt="o", color=colours[algo], capsize=3, label=algo
            )
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_ylabel(f"mean return: IQM over seeds, {CONFIDENCE:.0%} bootstrap CI")
        ax.set_ylim(bottom=0.0)
        ax.set_title(env_id)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
    wrapped_title(figure, "Robustness: best checkpoints on the held-out test episodes under perturbed physics")
    save_figure(figure, out)


def write_robustness(root: Path, runs: Sequence[RunSpec], results: Sequence[dict[str, Any]]) -> str:
    """Write ``robustness.csv`` and ``robustness.png``; returns the section for ``results.md``."""
    rows, notes = collect_robustness(root, runs, results)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ROBUSTNESS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(root / ROBUSTNESS_CSV, buffer.getvalue())
    plot_robustness(rows, results, root / ROBUSTNESS_PNG)
    return format_robustness_markdown(rows, results, notes)
