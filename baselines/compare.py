"""``compare``: every algorithm x env x seed, in parallel worker processes, summarised from the run directories.

Layout of the output directory ``DIR``::

    DIR/compare.json                       settings and every run planned into DIR so far (resume extends it)
    DIR/runs/<algo>/<env_id>/seed<S>/      one ordinary run directory per run (``baselines.runs``)
    DIR/results.csv                        one row per run, rebuilt from the run directories
    DIR/learning_curves.csv                every evaluation of every finished run (what ``plot`` draws from)
    DIR/results.md                         the summary table per algorithm x env, and the failed runs
    DIR/learning_curves.png                ``baselines.plotting``

Each worker process trains one run at a time on one torch thread and writes only its own run directory, so a
worker that crashes loses only the run it was training. Each worker slot is its own single-process pool: when one
dies, exactly its run is recorded as failed (``worker_error.json``), the slot gets a fresh process, and the other
slots keep going. Re-running into the same ``DIR`` skips the runs whose summary says ``finished`` and redoes the
others; the results files always describe every run planned into ``DIR``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from baselines.atomic import atomic_write_text
from baselines.plotting import CURVES_CSV, RESULTS_CSV, plot_directory
from baselines.runs import FAILED, FINISHED, METRICS_FILE, SUMMARY_FILE, RunError, read_run_config, read_summary

COMPARE_FILE = "compare.json"
RUNS_DIR = "runs"
RESULTS_MD = "results.md"
WORKER_ERROR_FILE = "worker_error.json"  # why a run has no summary: it failed before training, or its worker died
COMPARE_FORMAT = "continuous-cartpole-compare/1"
NOT_STARTED = "not_started"

FULL_SEEDS = 5
QUICK_SEEDS = 2
EVAL_EVERY = 2_000  # one cadence for every algorithm, so the curves and "solved" steps are comparable
# --quick env-step budgets: the default matrix (13 runs per seed, 2 seeds) took 1m45s with half of these budgets for
# SAC, TD3 and DQN on 2 shared cores; these keep it well inside 10 minutes.
# Full runs use each algorithm's own default budget (its config's total_steps).
QUICK_BUDGETS = {
    "ars": 50_000,
    "reinforce": 100_000,
    "ppo": 50_000,
    "a2c": 100_000,
    "dqn": 50_000,
    "sac": 15_000,
    "td3": 15_000,
    "sb3-ars": 50_000,
}
QUICK_DEFAULT_BUDGET = 20_000  # an algorithm registered later and missing above

RESULT_COLUMNS = (
    "algo",
    "env_id",
    "seed",
    "status",
    "solved_env_steps",
    "solved_wall_seconds",
    "final_eval_return_mean",
    "final_eval_return_std",
    "env_steps",
    "wall_seconds",
    "device",
    "reward_threshold",
    "total_steps",
    "error",
)
CURVE_COLUMNS = ("algo", "env_id", "seed", "env_steps", "wall_seconds", "eval_return_mean", "eval_return_std")


class CompareError(ValueError):
    """Bad ``compare`` arguments, or a ``DIR`` that holds a comparison with other settings."""


@dataclass(frozen=True)
class CompareSettings:
    """What must be equal for runs to be compared: resuming with other settings is refused."""

    quick: bool
    eval_every: int
    eval_episodes: int


@dataclass(frozen=True)
class RunSpec:
    algo: str
    env_id: str
    seed: int
    total_steps: int | None  # None: the algorithm's default budget

    def run_dir(self, root: Path) -> Path:
        env_name = self.env_id.rpartition(":")[2]  # "module:EnvId" -> "EnvId": no colon in paths (Windows)
        return root / RUNS_DIR / self.algo / env_name / f"seed{self.seed}"

    def label(self) -> str:
        return f"{self.algo} on {self.env_id}, seed {self.seed}"


# ---- planning ----


def plan_runs(algos: Sequence[str], env_ids: Sequence[str], seeds: int, quick: bool) -> tuple[list[RunSpec], list[str]]:
    """The runs of the matrix, and a note for each algorithm x env pair skipped (unsupported action space)."""
    from baselines.algorithms import ALGORITHMS
    from baselines.env_checks import action_kind
    from continuous_cartpole import registered_id

    if seeds < 1:
        raise CompareError(f"--seeds must be at least 1, got {seeds}")
    unknown = [algo for algo in algos if algo not in ALGORITHMS]
    if unknown:
        raise CompareError(f"unknown algorithm(s) {', '.join(unknown)}; known: {', '.join(ALGORITHMS)}")
    kinds = {}
    for env_id in env_ids:
        try:
            kinds[env_id] = action_kind(registered_id(env_id))
        except Exception as error:  # Gymnasium's errors for unknown ids are not ValueErrors
            raise CompareError(f"unknown or unusable env id {env_id!r}: {error}") from error
    runs, skipped = [], []
    for algo in dict.fromkeys(algos):
        for env_id in dict.fromkeys(env_ids):
            if kinds[env_id] not in ALGORITHMS[algo].action_spaces:
                supported = " and ".join(sorted(ALGORITHMS[algo].action_spaces))
                skipped.append(f"{algo} on {env_id}: {algo} only supports {supported} action spaces")
                continue
            budget = QUICK_BUDGETS.get(algo, QUICK_DEFAULT_BUDGET) if quick else None
            runs.extend(RunSpec(algo, env_id, seed, budget) for seed in range(seeds))
    if not runs:
        raise CompareError("the matrix is empty: " + "; ".join(skipped))
    return runs, skipped


def record_plan(root: Path, settings: CompareSettings, runs: Sequence[RunSpec]) -> list[RunSpec]:
    """Merge ``runs`` into ``root/compare.json`` (refusing other settings); returns every run planned into ``root``."""
    path = root / COMPARE_FILE
    planned: list[RunSpec] = []
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            stored_settings = CompareSettings(**stored["settings"])
            planned = [RunSpec(**run) for run in stored["runs"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CompareError(f"{path} is unreadable ({error}); use another --out") from error
        if stored_settings != settings:
            raise CompareError(
                f"{root} holds a comparison with other settings ({_describe_settings(stored_settings)}, now "
                f"{_describe_settings(settings)}); resume with the same settings or use another --out"
            )
    elif root.exists() and not root.is_dir():
        raise CompareError(f"output path {root} exists and is not a directory")
    elif root.is_dir() and any(root.iterdir()):
        raise CompareError(f"output directory {root} is not empty and holds no {COMPARE_FILE}; use another --out")
    known = {(run.algo, run.env_id, run.seed): index for index, run in enumerate(planned)}
    for run in runs:
        key = (run.algo, run.env_id, run.seed)
        if key in known:
            planned[known[key]] = run
        else:
            known[key] = len(planned)
            planned.append(run)
    root.mkdir(parents=True, exist_ok=True)
    data = {"format": COMPARE_FORMAT, "settings": asdict(settings), "runs": [asdict(run) for run in planned]}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return planned


def _describe_settings(settings: CompareSettings) -> str:
    budgets = "--quick budgets" if settings.quick else "full budgets"
    return f"{budgets}, eval every {settings.eval_every} steps over {settings.eval_episodes} episodes"


def is_finished(run_dir: Path) -> bool:
    try:
        return read_summary(run_dir).get("status") == FINISHED
    except RunError:
        return False


# ---- running ----


def run_matrix(
    root: Path,
    runs: Sequence[RunSpec],
    settings: CompareSettings,
    workers: int,
    device: str = "cpu",
    progress: bool = True,
) -> None:
    """Train every run of ``runs`` that is not finished yet, ``workers`` at a time; interruptions propagate."""
    from tqdm.auto import tqdm

    if workers < 1:
        raise CompareError(f"--workers must be at least 1, got {workers}")
    todo = deque(run for run in runs if not is_finished(run.run_dir(root)))
    slots: list[ProcessPoolExecutor | None] = [None] * min(workers, max(len(todo), 1))
    running: dict[Future, tuple[int, RunSpec]] = {}
    failed = 0
    bar = tqdm(total=len(runs), initial=len(runs) - len(todo), desc="compare", unit="run", disable=not progress)
    try:
        while todo or running:
            busy = {slot for slot, _ in running.values()}
            for slot in range(len(slots)):
                if todo and slot not in busy:
                    run = todo.popleft()
                    slots[slot] = slots[slot] or _new_worker()
                    _clear_stale_outcome(run.run_dir(root))
                    future = slots[slot].submit(train_one, run, str(run.run_dir(root)), settings, device)
                    running[future] = (slot, run)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                slot, run = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as error:  # the worker process died; only its run is lost
                    outcome = _record_worker_death(run, root, error)
                    slots[slot].shutdown(wait=False)  # type: ignore[union-attr]
                    slots[slot] = None
                failed += outcome["status"] != FINISHED
                bar.set_postfix_str(f"failed={failed} last: {run.label()}: {outcome['text']}", refresh=False)
                bar.update(1)
    finally:
        bar.close()
        for executor in slots:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def _new_worker() -> ProcessPoolExecutor:
    # spawn: a fresh interpreter per worker (no forked torch or pygame state), the same on every platform
    return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=_init_worker)


def _init_worker() -> None:
    import torch

    from baselines.devices import warm_up_torch

    torch.set_num_threads(1)  # resolve_device does this again for "cpu"; here it also covers "auto" on CPU
    warm_up_torch()


def _clear_stale_outcome(run_dir: Path) -> None:
    """A run about to be redone must not keep the failed summary or worker error of its last attempt."""
    (run_dir / WORKER_ERROR_FILE).unlink(missing_ok=True)
    (run_dir / SUMMARY_FILE).unlink(missing_ok=True)


def train_one(run: RunSpec, run_dir: str, settings: CompareSettings, device: str) -> dict[str, Any]:
    """Worker entry point: train ``run`` into ``run_dir``; never raises for a failed run, it records why."""
    from baselines.algorithms import get_algorithm
    from baselines.runs import train_run
    from continuous_cartpole import registered_id

    path = Path(run_dir)
    try:
        config_type = get_algorithm(run.algo).config_type()
        options: dict[str, Any] = {"total_steps": run.total_steps} if run.total_steps is not None else {}
        config = config_type(
            env_id=registered_id(run.env_id),  # configs take the registered id; the run keeps the id as given
            seed=run.seed,
            device=device,
            eval_every=settings.eval_every,
            eval_episodes=settings.eval_episodes,
            stop_when_solved=True,
            progress=False,
            **options,
        )
        summary = train_run(run.algo, config, path, overwrite=True, env_id=run.env_id, device=_device_name(device))
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if not (path / SUMMARY_FILE).exists():  # train_run records failures during training itself
            write_worker_error(path, reason)
        return {"status": FAILED, "text": f"failed ({reason[:80]})"}
    solved = summary["solved_env_steps"]
    text = f"solved at {solved} steps" if solved is not None else f"not solved ({summary['eval_return_mean']:.0f})"
    return {"status": FINISHED, "text": text}


def _device_name(device: str) -> str:
    from baselines.devices import resolve_device

    return str(resolve_device(device))


def write_worker_error(run_dir: Path, reason: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / WORKER_ERROR_FILE, json.dumps({"error": reason}) + "\n")


def _record_worker_death(run: RunSpec, root: Path, error: BaseException) -> dict[str, Any]:
    reason = f"the worker process died while training this run (killed, out of memory, or crashed): {error}"
    if not (run.run_dir(root) / SUMMARY_FILE).exists():
        write_worker_error(run.run_dir(root), reason)
    return {"status": FAILED, "text": "worker died"}


# ---- results ----


def collect_results(root: Path, runs: Iterable[RunSpec]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One results row per run and the evaluations of the finished runs, read from the run directories."""
    rows, curves = [], []
    for run in runs:
        row, metrics = _result_row(root, run)
        rows.append(row)
        curves.extend({"algo": run.algo, "env_id": run.env_id, "seed": run.seed, **record} for record in metrics)
    return rows, curves


def _result_row(root: Path, run: RunSpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run_dir = run.run_dir(root)
    row: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
    row.update(algo=run.algo, env_id=run.env_id, seed=run.seed, reward_threshold=_reward_threshold(run.env_id))
    row["total_steps"] = _budget_of(run_dir, run.total_steps)
    try:
        summary = read_summary(run_dir)
    except RunError as error:
        row["status"], row["error"] = _missing_summary(run_dir, error)
        return row, []
    row.update(
        status=summary.get("status"),
        error=summary.get("error"),
        solved_env_steps=summary.get("solved_env_steps"),
        solved_wall_seconds=summary.get("solved_wall_seconds"),
        final_eval_return_mean=summary.get("eval_return_mean"),
        final_eval_return_std=summary.get("eval_return_std"),
        env_steps=summary.get("env_steps"),
        wall_seconds=summary.get("wall_seconds"),
        device=summary.get("device"),
    )
    if summary.get("reward_threshold") is not None:
        row["reward_threshold"] = summary["reward_threshold"]
    if row["status"] != FINISHED:
        return row, []
    try:
        with open(run_dir / METRICS_FILE, newline="", encoding="utf-8") as file:
            metrics = [_parse_numbers(record) for record in csv.DictReader(file)]
    except (OSError, ValueError) as error:
        row["status"], row["error"] = FAILED, f"finished, but its {METRICS_FILE} is unreadable: {error}"
        return row, []
    return row, metrics


def _budget_of(run_dir: Path, planned: int | None) -> int | None:
    """The run's env-step budget: as its config.json recorded it, else as planned (None: the algorithm's default)."""
    try:
        return int(read_run_config(run_dir)["config"]["total_steps"])
    except (RunError, KeyError, TypeError, ValueError):
        return planned


def _missing_summary(run_dir: Path, error: RunError) -> tuple[str, str | None]:
    worker_error = run_dir / WORKER_ERROR_FILE
    if worker_error.exists():
        try:
            return FAILED, str(json.loads(worker_error.read_text(encoding="utf-8"))["error"])
        except (OSError, ValueError, KeyError, TypeError) as read_error:
            return FAILED, f"failed; {worker_error} is unreadable: {read_error}"
    if not run_dir.exists():
        return NOT_STARTED, "not started (the comparison was interrupted before this run)"
    return FAILED, f"no summary: the run never finished (interrupted, or its worker was stopped): {error}"


def _parse_numbers(record: dict[str, str]) -> dict[str, float | int]:
    parsed: dict[str, float | int] = {}
    for key, text in record.items():
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{key} is {text}")
        parsed[key] = int(value) if key == "env_steps" else value
    return parsed


def _reward_threshold(env_id: str) -> float | None:
    import gymnasium as gym

    import continuous_cartpole  # noqa: F401  (registers the ids)

    try:
        threshold = gym.spec(env_id.rpartition(":")[2]).reward_threshold
    except gym.error.Error:
        return None
    return None if threshold is None else float(threshold)


def format_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})
    return buffer.getvalue()


def format_markdown(rows: Sequence[dict[str, Any]], settings: CompareSettings, machine: str) -> str:
    """The summary table: per algorithm x env, seeds solved, steps and seconds to solve, final return."""
    seeds = len({row["seed"] for row in rows})
    budgets = "--quick budgets" if settings.quick else "each algorithm's default budget"
    lines = [
        "# Cart-pole baselines: comparison",
        "",
        f"Machine: {machine}",
        "",
        f"Up to {seeds} seed(s) per algorithm and env, {budgets}; evaluation every {settings.eval_every} env steps "
        f"on {settings.eval_episodes} deterministic episodes (separately seeded env); solved = mean evaluation "
        "return >= the env's reward threshold; training stops when solved. Steps and seconds to solve: median "
        "(min-max) over the solved seeds; wall seconds count from the start of training, evaluations included. "
        "Final return: mean ± std over seeds of each run's last evaluation.",
        "",
        "| algo | env | budget | solved / run | env steps to solve | wall s to solve | final return | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["algo"], row["env_id"]), []).append(row)
    for (algo, env_id), group in groups.items():
        solved = [row for row in group if row["solved_env_steps"] is not None]
        finals = [row["final_eval_return_mean"] for row in group if row["final_eval_return_mean"] is not None]
        failed = sum(row["status"] != FINISHED for row in group)
        budgets = sorted({row["total_steps"] for row in group if row["total_steps"] is not None})
        budget = " / ".join(f"{value:,}" for value in budgets) or "–"
        lines.append(
            f"| {algo} | {env_id} | {budget} | {len(solved)}/{len(group)} "
            f"| {_median_range([row['solved_env_steps'] for row in solved], '{:,.0f}')} "
            f"| {_median_range([row['solved_wall_seconds'] for row in solved], '{:.1f}')} "
            f"| {_mean_std(finals)} | {failed} |"
        )
    failures = [row for row in rows if row["status"] != FINISHED]
    if failures:
        lines += ["", "## Runs that did not finish", ""]
        lines += [f"- {row['algo']} on {row['env_id']}, seed {row['seed']}: {row['error']}" for row in failures]
    return "\n".join(lines) + "\n"


def _median_range(values: Sequence[float], number: str) -> str:
    if not values:
        return "–"
    low, middle, high = (number.format(value) for value in (min(values), statistics.median(values), max(values)))
    return f"{middle} ({low}–{high})"


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return "–"
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.1f} ± {std:.1f}"


def machine_description() -> str:
    """CPU model and count, OS, and the library versions, for the results table."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in ("torch", "stable-baselines3", "sb3-contrib", "gymnasium", "numpy"):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {', '.join(versions)}; one torch thread per worker; "
        f"written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}"
    )


def write_results(root: Path, runs: Sequence[RunSpec], settings: CompareSettings) -> list[dict[str, Any]]:
    """(Re)build results.csv, learning_curves.csv, results.md and learning_curves.png from the run directories."""
    rows, curves = collect_results(root, runs)
    atomic_write_text(root / RESULTS_CSV, format_csv(rows, RESULT_COLUMNS))
    atomic_write_text(root / CURVES_CSV, format_csv(curves, CURVE_COLUMNS))
    atomic_write_text(root / RESULTS_MD, format_markdown(rows, settings, machine_description()))
    plot_directory(root)
    return rows


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
) -> list[dict[str, Any]]:
    """Plan, run (resuming), and summarise; returns the results rows. Writes the results also when interrupted.

    Workers are spawned, so a script calling this must do so under ``if __name__ == "__main__":``.
    """
    root = Path(root)
    if eval_every < 1 or eval_episodes < 20:
        raise CompareError(f"eval_every must be >= 1 and eval_episodes >= 20, got {eval_every}, {eval_episodes}")
    if workers < 1:  # before record_plan writes anything into root
        raise CompareError(f"--workers must be at least 1, got {workers}")
    settings = CompareSettings(quick=quick, eval_every=eval_every, eval_episodes=eval_episodes)
    runs, skipped = plan_runs(algos, env_ids, seeds, quick)
    for note in skipped:
        print(f"skipped {note}")
    planned = record_plan(root, settings, runs)
    try:
        run_matrix(root, runs, settings, workers, device=device, progress=progress)
    finally:
        rows = write_results(root, planned, settings)
    return rows
