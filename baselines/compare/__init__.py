"""``compare``: every algorithm x env x seed, in parallel worker processes, summarised from the run directories.

Layout of the output directory ``DIR``::

    DIR/compare.json                       settings and every run planned into DIR so far (resume extends it)
    DIR/compare.lock                       locked by the compare using DIR (its pid inside), while it runs
    DIR/runs/<algo>/<env_id>/seed<S>/      one ordinary run directory per run (``baselines.runs``)
    DIR/results.csv                        one row per run, rebuilt from the run directories
    DIR/learning_curves.csv                every evaluation of every finished run (what ``plot`` draws from)
    DIR/results.md                         the summary table per algorithm x env, the failed runs, robustness
    DIR/learning_curves.png, statistics.png  ``baselines.plotting``
    DIR/robustness.csv, robustness.png     each finished run under perturbed physics (``compare.robustness``)

Each worker process trains one run at a time on one torch thread and writes only its own run directory, so a
worker that crashes loses only the run it was training. Each worker slot is its own single-process pool: when one
dies, exactly its run is recorded as failed (``worker_error.json``), the slot gets a fresh process, and the other
slots keep going. Re-running into the same ``DIR`` skips the runs whose summary says ``finished`` and redoes the
others, and so are damaged runs (a truncated metrics.csv, a summary with wrong types, a missing or altered
checkpoint); the results files always describe every run planned into ``DIR``. A run folder under ``DIR`` that is a
symbolic link is refused. Only one ``compare`` uses a ``DIR`` at a time (an ``flock`` on ``compare.lock``), and a
worker exits when its parent dies, even by SIGKILL, so no orphan keeps training into ``DIR``.

``compare(..., ray_address=...)`` trains the same runs as Ray tasks on a cluster instead of local worker processes;
planning, resuming, the lock and the results files stay the same.

The package reads as the steps of a comparison: ``plan`` (settings, runs, budgets), ``lock`` (one compare per
directory), an executor that trains the runs (``executor``: the interface; ``execute``: local worker processes;
``ray_executor``: Ray tasks; ``task``: one run, the same for both) and ``results`` (tables and figures); ``compare``
runs them in turn.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.compare.executor import Executor
from baselines.compare.lock import directory_lock
from baselines.compare.plan import (
    COMPARE_FILE,
    COMPARE_FORMAT,
    FULL_SEEDS,
    LOCK_FILE,
    QUICK_BUDGETS,
    QUICK_DEFAULT_BUDGET,
    QUICK_EXCLUDED,
    QUICK_SEEDS,
    RUNS_DIR,
    WORKER_ERROR_FILE,
    CompareError,
    CompareSettings,
    RunSpec,
    default_algos,
    default_budget,
    plan_runs,
    record_plan,
    refuse_symlinked_run_dirs,
)
from baselines.configs import EVAL_EVERY

__all__ = [
    "COMPARE_FILE",
    "COMPARE_FORMAT",
    "FULL_SEEDS",
    "LOCK_FILE",
    "QUICK_BUDGETS",
    "QUICK_DEFAULT_BUDGET",
    "QUICK_EXCLUDED",
    "QUICK_SEEDS",
    "RUNS_DIR",
    "WORKER_ERROR_FILE",
    "CompareError",
    "CompareSettings",
    "RunSpec",
    "compare",
    "default_algos",
    "default_budget",
    "directory_lock",
    "plan_runs",
    "record_plan",
    "refuse_symlinked_run_dirs",
]


# execute and results load numpy, gymnasium and the training code: their names are imported on first use, so that
# planning stays light, and so does the CLI's `compare --help`, which shows plan's defaults.
_LAZY_NAMES = {
    "execute": ("PARENT_POLL_SECONDS", "PR_SET_PDEATHSIG", "LocalExecutor", "exit_with_parent", "run_matrix"),
    "task": ("POLL_SECONDS", "init_training_process", "steps_bar", "train_one", "write_worker_error"),
    "results": (
        "CURVE_COLUMNS",
        "DAMAGED",
        "INTEGER_COLUMNS",
        "NOT_STARTED",
        "NUMERIC_SUMMARY_KEYS",
        "RESULTS_MD",
        "RESULT_COLUMNS",
        "SUMMARY_KEYS",
        "TEXT_COLUMNS",
        "collect_results",
        "damage",
        "format_csv",
        "format_markdown",
        "is_finished",
        "machine_description",
        "read_results_csv",
        "write_results",
    ),
}


def __getattr__(name: str) -> Any:
    module = next((module for module, names in _LAZY_NAMES.items() if name in names), None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def compare(
    root: str | os.PathLike[str],
    algos: Sequence[str],
    env_ids: Sequence[str],
    seeds: int,
    *,
    quick: bool = False,
    workers: int = 2,
    device: str = "cpu",
    eval_every: int = EVAL_EVERY,
    eval_episodes: int = 20,
    progress: bool = True,
    ray_address: str | None = None,
    tensorboard_log: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Plan, run (resuming), and summarise; returns the results rows. Writes the results also when interrupted.

    ``ray_address`` (``HOST:PORT`` of a Ray cluster's head, or ``"local"``) runs the matrix on Ray
    (``baselines.compare.ray_executor``) instead of ``workers`` local processes; ``None`` never imports Ray.

    ``OSError`` (a full or read-only disk) propagates; every file is written atomically, so old ones stay intact.
    ``tensorboard_log``: each run also writes its scalars as the TensorBoard run ``tensorboard_log/ALGO/ENV/seedS``.

    Workers are spawned, so a script calling this must do so under ``if __name__ == "__main__":``.
    """
    from baselines.compare.results import write_results

    root = Path(root)
    if eval_every < 1 or eval_episodes < 20:
        raise CompareError(f"eval_every must be >= 1 and eval_episodes >= 20, got {eval_every}, {eval_episodes}")
    if ray_address is not None and tensorboard_log is not None:  # a node's event files would stay on the node
        raise CompareError("--tensorboard-log works with local workers only, not with --ray")
    runs, skipped = plan_runs(algos, env_ids, seeds, quick)
    if root.exists() and not root.is_dir():
        raise CompareError(f"output path {root} exists and is not a directory")
    executor = _executor(workers, device, ray_address, tensorboard_log)
    executor.open()  # a bad device, a cluster that cannot be joined: refused before anything is written into root
    try:
        for note in skipped:
            print(f"skipped {note}")
        settings = CompareSettings(quick=quick, eval_every=eval_every, eval_episodes=eval_episodes, device=device)
        root.mkdir(parents=True, exist_ok=True)
        with directory_lock(root):
            planned = record_plan(root, settings, runs)
            refuse_symlinked_run_dirs(root, planned)
            try:
                executor.run(root, runs, settings, progress)
            finally:
                rows = write_results(root, planned, settings)
    finally:
        executor.close()
    return rows


def _executor(
    workers: int, device: str, ray_address: str | None, tensorboard_log: str | os.PathLike[str] | None
) -> Executor:
    if ray_address is not None:
        from baselines.compare.ray_executor import RayExecutor

        return RayExecutor(ray_address, device)
    from baselines.compare.execute import LocalExecutor

    return LocalExecutor(workers, device, None if tensorboard_log is None else str(tensorboard_log))
