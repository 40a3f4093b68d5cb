"""``compare``: every algorithm x env x seed, in parallel worker processes, summarised from the run directories.

Layout of the output directory ``DIR``::

    DIR/compare.json                       settings and every run planned into DIR so far (resume extends it)
    DIR/compare.lock                       the pid of the compare using DIR, while it runs
    DIR/runs/<algo>/<env_id>/seed<S>/      one ordinary run directory per run (``baselines.runs``)
    DIR/results.csv                        one row per run, rebuilt from the run directories
    DIR/learning_curves.csv                every evaluation of every finished run (what ``plot`` draws from)
    DIR/results.md                         the summary table per algorithm x env, and the failed runs
    DIR/learning_curves.png, statistics.png  ``baselines.plotting``

Each worker process trains one run at a time on one torch thread and writes only its own run directory, so a
worker that crashes loses only the run it was training. Each worker slot is its own single-process pool: when one
dies, exactly its run is recorded as failed (``worker_error.json``), the slot gets a fresh process, and the other
slots keep going. Re-running into the same ``DIR`` skips the runs whose summary says ``finished`` and redoes the
others, and so are damaged runs (a truncated metrics.csv, a summary with wrong types); the results files always
describe every run planned into ``DIR``. Only one ``compare`` uses a ``DIR`` at a time (``compare.lock``), and a
worker exits when its parent dies, even by SIGKILL, so no orphan keeps training into ``DIR``.

``compare(..., ray_address=...)`` trains the same runs as Ray tasks on a cluster instead of local worker processes
(``baselines.ray_backend``); planning, resuming, the lock and the results files stay the same.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import json
import math
import os
import platform
import secrets
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from baselines.atomic import atomic_write_text
from baselines.plotting import CURVES_CSV, RESULTS_CSV, plot_directory
from baselines.runs import (
    FAILED,
    FINISHED,
    METRICS_COLUMNS,
    METRICS_FILE,
    SUMMARY_FILE,
    RunError,
    read_run_config,
    read_summary,
)
from baselines.stats import CONFIDENCE, GroupSummary, RunOutcome, summarise_runs
from baselines.training import EVAL_EVERY  # one cadence for every algorithm and entry point

COMPARE_FILE = "compare.json"
LOCK_FILE = "compare.lock"
RUNS_DIR = "runs"
RESULTS_MD = "results.md"
WORKER_ERROR_FILE = "worker_error.json"  # why a run has no summary: it failed before training, or its worker died
COMPARE_FORMAT = "continuous-cartpole-compare/1"
NOT_STARTED = "not_started"
DAMAGED = "damaged"  # finished once, but its files no longer say so readably: compare redoes it

FULL_SEEDS = 10  # Agarwal et al. 2021: intervals over 3-5 seeds are too wide to rank anything
QUICK_SEEDS = 2
# --quick leaves out SAC and TD3 by default: one gradient step per env step makes them ~250 steps/s on one CPU
# thread, and they needed 18k-50k steps (110-190 s) to solve, TD3 not on every seed. The budgets below are at least
# the most steps any of 5 seeds needed in a full comparison (docs/compare_results.md: ARS 14k, REINFORCE 66k, PPO
# 26k, A2C 66k, DQN 38k, sb3-ars 58k), so each remaining pair solves on most seeds. Named with --algos, SAC and TD3
# get 30k steps. Full runs use each algorithm's own default budget (SB3: its table entry's, per action space).
QUICK_EXCLUDED = ("sac", "td3")
QUICK_BUDGETS = {
    "ars": 50_000,
    "reinforce": 100_000,
    "ppo": 50_000,
    "a2c": 100_000,
    "dqn": 50_000,
    "sac": 30_000,
    "td3": 30_000,
    "sb3-ars": 80_000,
}
QUICK_DEFAULT_BUDGET = 20_000  # an algorithm registered later and missing above
POLL_SECONDS = 1.0  # how often the progress bar reads the running runs' metrics.csv

RESULT_COLUMNS = (
    "algo",
    "env_id",
    "seed",
    "status",
    "solved_env_steps",
    "solved_wall_seconds",
    "test_return_mean",
    "test_return_std",
    "test_return_min",
    "test_episodes",
    "test_checkpoint",
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
    env_id: str  # the registry id: one run per env however the user spelt it
    seed: int
    total_steps: int | None  # None (older plans): the algorithm's default budget
    given_env_id: str | None = None  # as the user gave it ("module:EnvId"): the worker imports that module

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
    given: dict[str, str] = {}  # registry id -> the first spelling given
    kinds = {}
    for env_id in env_ids:
        try:
            canonical = registered_id(env_id)
            kinds[canonical] = action_kind(canonical)
        except Exception as error:  # Gymnasium's errors for unknown ids are not ValueErrors
            raise CompareError(f"unknown or unusable env id {env_id!r}: {error}") from error
        given.setdefault(canonical, env_id)
    runs, skipped = [], []
    for algo in dict.fromkeys(algos):
        for env_id, spelling in given.items():
            if kinds[env_id] not in ALGORITHMS[algo].action_spaces:
                supported = " and ".join(sorted(ALGORITHMS[algo].action_spaces))
                skipped.append(f"{algo} on {env_id}: {algo} only supports {supported} action spaces")
                continue
            budget = QUICK_BUDGETS.get(algo, QUICK_DEFAULT_BUDGET) if quick else default_budget(algo, kinds[env_id])
            runs.extend(RunSpec(algo, env_id, seed, budget, spelling) for seed in range(seeds))
    if not runs:
        raise CompareError("the matrix is empty: " + "; ".join(skipped))
    return runs, skipped


def default_algos(quick: bool) -> list[str]:
    """Every algorithm; ``--quick`` leaves out the slow off-policy ones (``QUICK_EXCLUDED``)."""
    from baselines.algorithms import ALGORITHMS

    return [algo for algo in ALGORITHMS if not (quick and algo in QUICK_EXCLUDED)]


def default_budget(algo: str, kind: str) -> int:
    """A full run's env-step budget: the SB3 table's entry for this action space, else the config's default."""
    from dataclasses import fields

    from baselines import sb3_hyperparams
    from baselines.algorithms import get_algorithm

    if algo in sb3_hyperparams.SB3_ALGORITHMS:  # the config's default is the largest over the action spaces
        return sb3_hyperparams.entry(algo, kind).budget
    defaults = {field.name: field.default for field in fields(get_algorithm(algo).config_type())}
    return int(defaults["total_steps"])


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
    elif root.is_dir() and any(path.name != LOCK_FILE for path in root.iterdir()):
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
    """Finished, and its summary and metrics still readable; anything else is (re)done."""
    try:
        summary = read_summary(run_dir)
    except RunError:
        return False
    return damage(run_dir, summary) is None and summary["status"] == FINISHED


# ---- one compare per directory ----


@contextlib.contextmanager
def directory_lock(root: Path) -> Iterator[None]:
    """Hold ``root/compare.lock`` (our pid) while the block runs; refuse when a live process holds it.

    The lock appears with its content in one step: the pid is written to a temporary file that is then hard-linked
    to the lock's name, which fails when the name exists (as ``O_EXCL`` does). A lock whose process is gone was
    left by a compare that was killed; it is taken over.
    """
    path = root / LOCK_FILE
    while True:
        owner = _lock_owner(path)
        if owner is not None and _process_alive(owner):
            raise CompareError(
                f"{root} is in use by another compare (process {owner}, per {path}); wait for it to end, stop it, "
                f"or use another --out (delete {path} if process {owner} is not a compare)"
            )
        if owner is not None or path.exists():  # stale: its process died without removing it
            path.unlink(missing_ok=True)
        if _create_lock(path):
            break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _create_lock(path: Path) -> bool:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with open(temp, "x", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")
    try:
        os.link(temp, path)
    except FileExistsError:
        return False  # another compare got there first; the loop reads its pid
    finally:
        temp.unlink()
    return True


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


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
    if workers < 1:
        raise CompareError(f"--workers must be at least 1, got {workers}")
    todo = deque(run for run in runs if not is_finished(run.run_dir(root)))
    slots: list[ProcessPoolExecutor | None] = [None] * min(workers, max(len(todo), 1))
    running: dict[Future, tuple[int, RunSpec]] = {}
    failed = 0
    done_steps = sum(_budget_steps(run) for run in runs if run not in todo)
    bar = steps_bar(runs, done_steps, progress)
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
            done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                slot, run = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as error:  # the worker process died; only its run is lost
                    outcome = _record_worker_death(run, root, error)
                    slots[slot].shutdown(wait=False)  # type: ignore[union-attr]
                    slots[slot] = None
                failed += outcome["status"] != FINISHED
                done_steps += _budget_steps(run)
                bar.set_postfix_str(f"failed={failed} last: {run.label()}: {outcome['text']}", refresh=False)
            in_progress = sum(_steps_so_far(run.run_dir(root)) for _, run in running.values())
            bar.n = done_steps + in_progress
            bar.refresh()
    finally:
        bar.close()
        for executor in slots:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


def steps_bar(runs: Sequence[RunSpec], done_steps: int, progress: bool) -> Any:
    """The bar counts env steps summed over the runs: a run that ends (solved early, or failed) counts as its budget."""
    from tqdm.auto import tqdm

    return tqdm(
        total=sum(_budget_steps(run) for run in runs),
        initial=done_steps,
        desc="compare",
        unit=" steps",
        unit_scale=True,
        disable=not progress,
        smoothing=0.05,
    )


def _budget_steps(run: RunSpec) -> int:
    return run.total_steps if run.total_steps is not None else QUICK_DEFAULT_BUDGET


def _steps_so_far(run_dir: Path) -> int:
    """The env steps of the run's last evaluation, from its metrics.csv (0 before the first one, or if unreadable)."""
    try:
        with open(run_dir / METRICS_FILE, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - 512))  # the last row is all we need
            last = file.read().decode("utf-8", "replace").strip().rsplit("\n", 1)[-1]
        return int(float(last.split(",", 1)[0]))
    except (OSError, ValueError):
        return 0


def _new_worker() -> ProcessPoolExecutor:
    # spawn: a fresh interpreter per worker (no forked torch or pygame state), the same on every platform
    return ProcessPoolExecutor(
        max_workers=1, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(os.getpid(),)
    )


def _init_worker(parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    init_training_process()


def init_training_process() -> None:
    """What a process that trains runs first (here and on Ray nodes): one torch thread, torch's lazy imports paid."""
    import torch

    from baselines.devices import warm_up_torch

    torch.set_num_threads(1)  # resolve_device does this again for "cpu"; here it also covers "auto" on CPU
    warm_up_torch()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5


def exit_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` dies, even by SIGKILL (no chance to stop its workers).

    Linux: the kernel sends SIGKILL at the parent's death (prctl PR_SET_PDEATHSIG). Everywhere: a daemon thread
    notices the re-parenting (``os.getppid()`` changes) and exits. The check right after prctl covers a parent that
    died before it took effect.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="exit-with-parent", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


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
        given = run.given_env_id or run.env_id
        config = config_type(
            env_id=registered_id(given),  # imports the module of "module:EnvId" in this fresh worker
            seed=run.seed,
            device=device,
            eval_every=settings.eval_every,
            eval_episodes=settings.eval_episodes,
            stop_when_solved=True,
            progress=False,
            **options,
        )
        summary = train_run(run.algo, config, path, overwrite=True, env_id=given, device=_device_name(device))
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        if not (path / SUMMARY_FILE).exists():  # train_run records failures during training itself
            write_worker_error(path, reason)
        return {"status": FAILED, "text": f"failed ({reason[:80]})"}
    solved = summary["solved_env_steps"]
    last = summary["eval_return_mean"]
    text = (
        f"solved at {solved} steps" if solved is not None else f"not solved (last evaluation: {last and round(last)})"
    )
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
    "test_return_mean": "test_return_mean",
    "test_return_std": "test_return_std",
    "test_return_min": "test_return_min",
    "test_episodes": "test_episodes",
    "test_checkpoint": "test_checkpoint",
    "final_eval_return_mean": "eval_return_mean",
    "final_eval_return_std": "eval_return_std",
    "env_steps": "env_steps",
    "wall_seconds": "wall_seconds",
    "device": "device",
}
NUMERIC_SUMMARY_KEYS = (
    "solved_env_steps",
    "solved_wall_seconds",
    "test_return_mean",
    "test_return_std",
    "test_return_min",
    "test_episodes",
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
        _read_metrics(run_dir / METRICS_FILE)
    except ValueError as error:
        return f"damaged: {error}; compare redoes the run"
    return None


def _read_metrics(path: Path) -> list[dict[str, float | int]]:
    """The rows of a run's metrics.csv; ``ValueError`` naming the file and line when one is cut short or not numeric."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            if tuple(reader.fieldnames or ()) != METRICS_COLUMNS:
                raise ValueError(f"{path} has the columns {reader.fieldnames}, not {', '.join(METRICS_COLUMNS)}")
            return [_parse_numbers(record, f"{path} line {reader.line_num}") for record in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path} is unreadable: {error}") from error


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
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        missing = [column for column in RESULT_COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)}")
        return [_typed_row(record, f"{path} line {reader.line_num}") for record in reader]


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
        "their mean reaches it too (ARS and REINFORCE then train on to a perfect confirmation, SB3 stops). "
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
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """Plan, run (resuming), and summarise; returns the results rows. Writes the results also when interrupted.

    ``ray_address`` (``HOST:PORT`` of a Ray cluster's head, or ``"local"``) runs the matrix on Ray
    (``baselines.ray_backend``) instead of ``workers`` local processes; ``None`` never imports Ray.

    ``OSError`` (a full or read-only disk) propagates; every file is written atomically, so old ones stay intact.

    Workers are spawned, so a script calling this must do so under ``if __name__ == "__main__":``.
    """
    root = Path(root)
    if eval_every < 1 or eval_episodes < 20:
        raise CompareError(f"eval_every must be >= 1 and eval_episodes >= 20, got {eval_every}, {eval_episodes}")
    if workers < 1:  # before record_plan writes anything into root
        raise CompareError(f"--workers must be at least 1, got {workers}")
    if ray_address is not None:  # Ray missing or a bad address: refused before anything is written
        from baselines.ray_backend import check_ray_address

        check_ray_address(ray_address)
    settings = CompareSettings(quick=quick, eval_every=eval_every, eval_episodes=eval_episodes)
    runs, skipped = plan_runs(algos, env_ids, seeds, quick)
    for note in skipped:
        print(f"skipped {note}")
    if root.exists() and not root.is_dir():
        raise CompareError(f"output path {root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True)
    with directory_lock(root):
        planned = record_plan(root, settings, runs)
        try:
            if ray_address is None:
                run_matrix(root, runs, settings, workers, device=device, progress=progress)
            else:
                from baselines.ray_backend import run_matrix_on_ray

                run_matrix_on_ray(root, runs, settings, ray_address, device=device, progress=progress)
        finally:
            rows = write_results(root, planned, settings)
    return rows
