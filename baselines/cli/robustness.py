"""``cartpole-baselines robustness DIR [DIR ...] --vary NAME=LOW:HIGH:N``: runs' returns under perturbed physics."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tyro
from tyro.conf import arg

from baselines.cli.common import Checkpoint, CliError, Directory, GymPackages, Seed, load_run

NAME = "robustness"
HELP = (
    "evaluate runs' saved policies on a grid of perturbed physics (one or two --vary flags) and write, into --out, "
    "a CSV and a figure per run (a curve, or a heatmap of the mean return) and robustness.png with every run"
)
OVERLAY = "robustness"  # DIR/robustness.png: every run on one figure; no run's files take this name
DEFAULT_SEED_HINT = "(default: each run's held-out test seed, so the nominal physics reproduce the run's test)"
RunDirs = Annotated[tuple[Path, ...], arg(metavar="DIR [DIR ...]", help_behavior_hint="(at least one)")]
VaryFlags = Annotated[
    tuple[str, ...],
    tyro.conf.UseAppendAction,
    arg(
        metavar="NAME=LOW:HIGH:N",
        help="vary a physical parameter (gravity, masscart, masspole, length, force_mag, tau) over N evenly spaced "
        "values from LOW to HIGH; once for a curve, twice for a heatmap (e.g. --vary length=0.25:2.0:8)",
    ),
]


@dataclass(frozen=True)
class Robustness:
    run_dirs: tyro.conf.Positional[RunDirs]  # run directories written by 'train'
    vary: VaryFlags
    out: Directory = Path("robustness")  # output directory (created if needed); files in it are replaced
    episodes: int = 100  # deterministic episodes per grid point, the same start states at every point
    seed: Annotated[Seed | None, arg(metavar="SEED", help_behavior_hint=DEFAULT_SEED_HINT)] = None  # env seed
    checkpoint: Checkpoint = "best"
    gym_package: GymPackages = ()

    def run(self) -> int:
        from baselines.robustness import MAX_EPISODES, GridError, format_grid_csv, grid_rows, parse_grid
        from baselines.training import test_seed

        # Everything the user gave is checked before a file is written or an episode played.
        try:
            axes = parse_grid(self.vary)
        except GridError as error:
            raise CliError(str(error)) from error
        if not self.run_dirs:
            raise CliError("give at least one run directory written by 'train'")
        if not 1 <= self.episodes <= MAX_EPISODES:
            raise CliError(f"--episodes must be an integer in [1, {MAX_EPISODES}], got {self.episodes}")
        if self.out.exists() and not self.out.is_dir():
            raise CliError(f"output path {self.out} exists and is not a directory")
        labels = run_labels(self.run_dirs)
        from baselines.devices import resolve_device  # torch: only once the arguments are known to be good

        resolve_device("cpu")  # the policies run on the CPU, on one torch thread (see baselines.devices)
        runs = [load_run(run_dir, self.gym_package, self.checkpoint) for run_dir in self.run_dirs]
        nominal = _common_nominal([env_id for _, env_id, _ in runs], [axis.name for axis in axes])

        results = []
        for run_dir, (run_config, env_id, policy) in zip(self.run_dirs, runs, strict=True):
            seed = self.seed if self.seed is not None else test_seed(int(run_config["config"].get("seed", 0)))
            rows = grid_rows(policy, env_id, axes, self.episodes, seed)
            results.append(rows)
            print(_describe(run_dir, run_config["algo"], env_id, rows))

        from baselines.atomic import atomic_write_text
        from baselines.robustness_plots import plot_runs

        self.out.mkdir(parents=True, exist_ok=True)
        threshold = _threshold(runs[0][1])
        legends = [f"{label} ({run_config['algo']})" for label, (run_config, _, _) in zip(labels, runs, strict=True)]
        for label, legend, rows in zip(labels, legends, results, strict=True):
            atomic_write_text(self.out / f"{label}.csv", format_grid_csv(axes, rows))
            plot_runs([legend], axes, [rows], nominal, threshold, self.out / f"{label}.png")
        plot_runs(legends, axes, results, nominal, threshold, self.out / f"{OVERLAY}.png")
        names = ", ".join(f"{label}.csv/.png" for label in labels)
        print(f"wrote {names} and {OVERLAY}.png into {self.out}")
        return 0


def command_type() -> type:
    return Robustness


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """File names for the runs: the shortest tails of their paths that tell them apart, as safe names."""
    paths = [Path(os.path.abspath(run_dir)).parts for run_dir in run_dirs]
    if len(set(paths)) < len(paths):
        raise CliError("a run directory is given twice; give each run once")
    depth = 1
    while len({path[-depth:] for path in paths}) < len(paths):
        depth += 1
    labels = [re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(path[-depth:])).strip("._") or "run" for path in paths]
    taken = {OVERLAY}
    unique = []
    for index, label in enumerate(labels):
        name = label if label not in taken else f"{label}_{index + 1}"
        taken.add(name)
        unique.append(name)
    return unique


def _common_nominal(env_ids: Sequence[str], names: Sequence[str]) -> dict[str, float]:
    """The varied parameters' nominal values, which the runs' envs must share to be drawn on one figure."""
    from baselines.robustness import GridError, nominal_params

    try:
        nominals = [{name: getattr(nominal_params(env_id), name) for name in names} for env_id in env_ids]
    except GridError as error:
        raise CliError(str(error)) from error
    if any(nominal != nominals[0] for nominal in nominals):
        raise CliError(f"the runs' envs differ in the nominal {', '.join(names)}; give runs of one env")
    return nominals[0]


def _threshold(env_id: str) -> float | None:
    import gymnasium as gym

    threshold = gym.spec(env_id).reward_threshold
    return None if threshold is None else float(threshold)


def _describe(run_dir: Path, algo: str, env_id: str, rows: Sequence[dict[str, Any]]) -> str:
    worst = min(rows, key=lambda row: row["return_mean"])
    names = [key for key in rows[0] if key not in ("episodes", "seed") and not key.startswith("return_")]
    where = ", ".join(f"{name}={worst[name]:g}" for name in names)
    mean = sum(row["return_mean"] for row in rows) / len(rows)
    return (
        f"{run_dir}: {algo} on {env_id}, mean return {mean:.1f} over {len(rows)} grid points "
        f"(lowest {worst['return_mean']:.1f} at {where})"
    )
