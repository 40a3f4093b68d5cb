"""Summarising the run directories into ``results.csv``, ``learning_curves.csv``, ``results.md`` and the figures."""

from __future__ import annotations

import csv
import io
import math
import os
import platform
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from baselines.algorithms import CHECKPOINT_FILES
from baselines.atomic import atomic_write_text
from baselines.bounded_read import (
    METRICS_CSV_BYTES,
    RESULTS_CSV_BYTES,
    RUN_JSON_BYTES,
    FileRefused,
    read_csv,
    read_json,
    read_text,
)
from baselines.checkpoint import CheckpointError, verify_checkpoint
from baselines.compare.plan import WORKER_ERROR_FILE, CompareSettings, RunSpec
from baselines.plotting import CURVES_CSV, RESULTS_CSV, plot_directory
from baselines.runs import (
    FAILED,
    FINISHED,
    METRICS_COLUMNS,
    METRICS_FILE,
    SUMMARY_FILE,
    TEST_KEYS,
    RunError,
    read_run_config,
    read_summary,
)
from baselines.stats import CONFIDENCE, GroupSummary, RunOutcome, summarise_runs

RESULTS_MD = "results.md"
CPUINFO_BYTES = 4 * 1024 * 1024  # /proc/cpuinfo: about 1.5 KiB a logical CPU
NOT_STARTED = "not_started"
DAMAGED = "damaged"  # finished once, but its files no longer say so readably: compare redoes it
RESULT_COLUMNS = (
    "algo",
    "env_id",
    "seed",
    "status",
    "solved_env_steps",
    "solved_wall_seconds",
    *TEST_KEYS,
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
    problem = damage(run_dir, summary)
    if problem is not None:
        row["status"], row["error"] = DAMAGED, problem
        return row, []
    row.update({column: summary.get(key) for column, key in SUMMARY_KEYS.items()})
    if summary.get("reward_threshold") is not None:
        row["reward_threshold"] = summary["reward_threshold"]
    if row["status"] != FINISHED:
        return row, []
    return row, _read_metrics(run_dir / METRICS_FILE)


# results.csv column -> summary.json key; the numbers among them are checked by ``damage``
SUMMARY_KEYS = {
    "status": "status",
    "error": "error",
    "solved_env_steps": "solved_env_steps",
    "solved_wall_seconds": "solved_wall_seconds",
    **{key: key for key in TEST_KEYS},
    "final_eval_return_mean": "eval_return_mean",
    "final_eval_return_std": "eval_return_std",
    "env_steps": "env_steps",
    "wall_seconds": "wall_seconds",
    "device": "device",
}
NUMERIC_SUMMARY_KEYS = (
    "solved_env_steps",
    "solved_wall_seconds",
    *(key for key in TEST_KEYS if key != "test_checkpoint"),  # the checkpoint's name is text
    "eval_return_mean",
    "eval_return_std",
    "env_steps",
    "wall_seconds",
    "reward_threshold",
)


def damage(run_dir: Path, summary: Any) -> str | None:
    """Why a run's summary or (for a finished run) metrics.csv cannot be trusted; None when both are sound."""
    path = run_dir / SUMMARY_FILE
    if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
        return f"damaged: {path} is not a run summary (no status); compare redoes the run"
    for key in NUMERIC_SUMMARY_KEYS:
        value = summary.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"damaged: {path} holds {value!r} for {key}, not a number; compare redoes the run"
    if summary["status"] != FINISHED:
        return None
    if not isinstance(summary.get("env_steps"), int) or not isinstance(summary.get("wall_seconds"), (int, float)):
        return f"damaged: {path} lacks env_steps or wall_seconds; compare redoes the run"
    try:
        evaluations = len(_read_metrics(run_dir / METRICS_FILE))
    except ValueError as error:
        return f"damaged: {error}; compare redoes the run"
    if isinstance(summary.get("evaluations"), int) and evaluations != summary["evaluations"]:
        return (
            f"damaged: {run_dir / METRICS_FILE} holds {evaluations} evaluations, {path} says "
            f"{summary['evaluations']}; compare redoes the run"
        )
    if summary.get("checkpoint") is not None:  # every evaluation saves the last checkpoint, the first one the best
        for name in CHECKPOINT_FILES.values():
            try:
                verify_checkpoint(run_dir / name)
            except CheckpointError as error:
                return f"damaged: {error}; compare redoes the run"
    return None


def _read_metrics(path: Path) -> list[dict[str, float | int]]:
    """The rows of a run's metrics.csv; ``ValueError`` naming the file and line when one is cut short or not numeric."""
    try:
        reader = read_csv(path, METRICS_CSV_BYTES, "metrics")
        if tuple(reader.fieldnames or ()) != METRICS_COLUMNS:
            raise ValueError(f"{path} has the columns {reader.fieldnames}, not {', '.join(METRICS_COLUMNS)}")
        return [_parse_numbers(record, f"{path} line {reader.line_num}") for record in reader]
    except csv.Error as error:
        raise ValueError(f"{path} is unreadable: {error}") from error


def _budget_of(run_dir: Path, planned: int | None) -> int | None:
    """The run's env-step budget: as its config.json recorded it, else as planned (None: the algorithm's default)."""
    try:
        return int(read_run_config(run_dir)["config"]["total_steps"])
    except (RunError, KeyError, TypeError, ValueError):
        return planned


def _missing_summary(run_dir: Path, error: RunError) -> tuple[str, str | None]:
    worker_error = run_dir / WORKER_ERROR_FILE
    if worker_error.exists() or worker_error.is_symlink():
        try:
            return FAILED, str(read_json(worker_error, RUN_JSON_BYTES, "worker error")["error"])
        except (ValueError, KeyError, TypeError) as read_error:
            return FAILED, f"failed; {worker_error} is unreadable: {read_error}"
    if not run_dir.exists():
        return NOT_STARTED, "not started (the comparison was interrupted before this run)"
    return FAILED, f"no summary: the run never finished (interrupted, or its worker was stopped): {error}"


def _parse_numbers(record: dict[str | None, Any], where: str) -> dict[str, float | int]:
    if None in record or None in record.values():  # DictReader's marks of a row longer or shorter than the header
        raise ValueError(f"{where} is cut short or has extra fields ({len(METRICS_COLUMNS)} belong)")
    parsed: dict[str, float | int] = {}
    for key, text in record.items():
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where}: {key} is {text!r}, not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: {key} is {text}")
        parsed[str(key)] = int(value) if key == "env_steps" else value
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


INTEGER_COLUMNS = ("seed", "solved_env_steps", "test_episodes", "env_steps", "total_steps")
TEXT_COLUMNS = ("algo", "env_id", "status", "test_checkpoint", "device", "error")


def read_results_csv(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` with their types back (empty cells are None): ``format_markdown`` redraws
    ``results.md`` from them. ``ValueError`` names the file, line and column of a bad cell."""
    try:
        reader = read_csv(path, RESULTS_CSV_BYTES, "results")
        missing = [column for column in RESULT_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)}")
        return [_typed_row(record, f"{path} line {reader.line_num}") for record in reader]
    except csv.Error as error:
        raise ValueError(f"{path} is unreadable: {error}") from error


def _typed_row(record: dict[str | None, Any], where: str) -> dict[str, Any]:
    if None in record or None in record.values():
        raise ValueError(f"{where} is cut short or has extra fields")
    row: dict[str, Any] = {}
    for column in RESULT_COLUMNS:
        text = record[column]
        try:
            if text == "" or column in TEXT_COLUMNS:
                row[column] = text or None
            else:
                row[column] = int(text) if column in INTEGER_COLUMNS else float(text)
        except ValueError:
            raise ValueError(f"{where}: {column} is {text!r}, not a number") from None
    return row


def format_markdown(rows: Sequence[dict[str, Any]], settings: CompareSettings, machine: str) -> str:
    """The summary table: per algorithm x env, the solve rate and IQMs over seeds with 95 % intervals."""
    seeds = len({row["seed"] for row in rows})
    budgets = "--quick budgets" if settings.quick else "each algorithm's default budget"
    confidence = f"{CONFIDENCE:.0%}"
    lines = [
        "# Cart-pole baselines: comparison",
        "",
        f"Machine: {machine}",
        "",
        f"Up to {seeds} seed(s) per algorithm and env, {budgets}; evaluation every {settings.eval_every} env steps "
        f"on {settings.eval_episodes} deterministic episodes, on new start states each time; an evaluation reaching "
        "the env's reward threshold triggers 100 more episodes on unused start states, and the run is solved when "
        "their mean reaches it too (ARS and REINFORCE then train on to a perfect confirmation on the balance ids, "
        "SB3 stops). "
        "Solved: runs solved / finished runs, rate with its Wilson "
        f"{confidence} interval. The other columns: interquartile mean over the finished runs (mean of the middle "
        f"50 %) with its {confidence} percentile bootstrap interval (Agarwal et al. 2021). Test return: the "
        "100-episode test of each run's best checkpoint on held-out start states. Env steps and wall seconds to "
        "solve count an unsolved run "
        'at its env-step budget and its whole wall time (flagged "k at budget"); wall seconds count from the '
        "start of training, evaluations included.",
        "",
        f"| algo | env | budget | solved (rate [{confidence} CI]) | test return IQM [{confidence} CI] "
        "| env steps to solve IQM [CI] | wall s to solve IQM [CI] | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["algo"], row["env_id"]), []).append(row)
    for (algo, env_id), group in groups.items():
        finished = [row for row in group if row["status"] == FINISHED]
        budgets = sorted({row["total_steps"] for row in group if row["total_steps"] is not None})
        budget = " / ".join(f"{value:,}" for value in budgets) or "–"
        cells = _statistics_cells(summarise_runs([_outcome(row) for row in finished])) if finished else ["–"] * 4
        lines.append(f"| {algo} | {env_id} | {budget} | {' | '.join(cells)} | {len(group) - len(finished)} |")
    failures = [row for row in rows if row["status"] != FINISHED]
    if failures:
        lines += ["", "## Runs that did not finish", ""]
        lines += [f"- {row['algo']} on {row['env_id']}, seed {row['seed']}: {row['error']}" for row in failures]
    return "\n".join(lines) + "\n"


def _outcome(row: dict[str, Any]) -> RunOutcome:
    """A finished run's numbers for the statistics; the budget of an unsolved run is its planned one."""
    budget = row["total_steps"] if row["total_steps"] is not None else row["env_steps"]
    return RunOutcome(
        test_return=row["test_return_mean"],
        solved_env_steps=row["solved_env_steps"],
        solved_wall_seconds=row["solved_wall_seconds"],
        budget_env_steps=float(budget),
        wall_seconds=float(row["wall_seconds"]),
    )


def _statistics_cells(summary: GroupSummary) -> list[str]:
    rate = summary.solve_rate
    solved = f"{summary.solved}/{summary.runs} ({rate.value:.0%} [{rate.low:.0%}, {rate.high:.0%}])"
    if summary.test_return is None:
        test = "– (no test return)"
    else:
        test = summary.test_return.format()
        test += f" ({summary.missing_test} without a test)" if summary.missing_test else ""
    at_budget = f" ({summary.unsolved_at_budget} at budget)" if summary.unsolved_at_budget else ""
    steps = summary.env_steps_to_solve.format("{:,.0f}") + at_budget
    seconds = summary.wall_seconds_to_solve.format("{:.1f}") + at_budget
    return [solved, test, steps, seconds]


def machine_description() -> str:
    """CPU model and count, OS, and the library versions, for the results table."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        lines = read_text("/proc/cpuinfo", CPUINFO_BYTES, "CPU description").splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (FileRefused, StopIteration):
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
    """(Re)build results.csv, learning_curves.csv, results.md, the figures and the robustness summary
    (``baselines.compare.robustness``) from the run directories."""
    from baselines.compare.robustness import write_robustness  # loads the policies: only when writing

    rows, curves = collect_results(root, runs)
    atomic_write_text(root / RESULTS_CSV, format_csv(rows, RESULT_COLUMNS))
    atomic_write_text(root / CURVES_CSV, format_csv(curves, CURVE_COLUMNS))
    robustness = write_robustness(root, runs, rows)
    atomic_write_text(root / RESULTS_MD, format_markdown(rows, settings, machine_description()) + robustness)
    plot_directory(root)
    return rows


def is_finished(run_dir: Path) -> bool:
    """Finished, and its summary and metrics still readable; anything else is (re)done."""
    try:
        summary = read_summary(run_dir)
    except RunError:
        return False
    return damage(run_dir, summary) is None and summary["status"] == FINISHED
