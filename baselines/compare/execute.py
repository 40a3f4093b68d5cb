"""Running the planned runs in worker processes (one single-process pool per slot, one torch thread each), with a
progress bar in env steps; workers exit with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from baselines.atomic import atomic_write_text
from baselines.bounded_read import METRICS_CSV_BYTES, open_regular
from baselines.compare.plan import QUICK_DEFAULT_BUDGET, WORKER_ERROR_FILE, CompareError, CompareSettings, RunSpec
from baselines.compare.results import is_finished
from baselines.runs import (
    FAILED,
    FINISHED,
    METRICS_FILE,
    SUMMARY_FILE,
)

POLL_SECONDS = 1.0  # how often the progress bar reads the running runs' metrics.csv


def run_matrix(
    root: Path,
    runs: Sequence[RunSpec],
    settings: CompareSettings,
    workers: int,
    device: str = "cpu",
    progress: bool = True,
    tensorboard_log: str | None = None,
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
                    future = slots[slot].submit(
                        train_one, run, str(run.run_dir(root)), settings, device, tensorboard_log
                    )
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
        with open_regular(run_dir / METRICS_FILE, METRICS_CSV_BYTES, "metrics") as fd:
            os.lseek(fd, max(0, os.lseek(fd, 0, os.SEEK_END) - 512), os.SEEK_SET)  # the last row is all we need
            tail = os.read(fd, 512)
        last = tail.decode("utf-8", "replace").strip().rsplit("\n", 1)[-1]
        return int(float(last.split(",", 1)[0]))
    except (OSError, ValueError):  # FileRefused included: a FIFO or a device is never read
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


def train_one(
    run: RunSpec, run_dir: str, settings: CompareSettings, device: str, tensorboard_log: str | None = None
) -> dict[str, Any]:
    """Worker entry point: train ``run`` into ``run_dir``; never raises for a failed run, it records why."""
    from baselines.algorithms import get_algorithm
    from baselines.configs import task_settings
    from baselines.env_checks import env_task
    from baselines.runs import train_run
    from continuous_cartpole import registered_id

    path = Path(run_dir)
    try:
        config_type = get_algorithm(run.algo).config_type()
        given = run.given_env_id or run.env_id
        env_id = registered_id(given)  # imports the module of "module:EnvId" in this fresh worker
        options: dict[str, Any] = dict(task_settings(run.algo, env_task(env_id)))  # e.g. ARS's rff policy
        if run.total_steps is not None:
            options["total_steps"] = run.total_steps
        config = config_type(
            env_id=env_id,
            seed=run.seed,
            device=device,
            eval_every=settings.eval_every,
            eval_episodes=settings.eval_episodes,
            stop_when_solved=True,
            progress=False,
            **options,
        )
        summary = train_run(
            run.algo,
            config,
            path,
            overwrite=True,
            env_id=given,
            device=_device_name(device),
            tensorboard_log=tensorboard_log,
        )
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
