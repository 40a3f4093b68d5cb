"""The local executor: the planned runs in worker processes on this machine (one single-process pool per slot, one
torch thread each), with a progress bar in env steps; workers exit with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from baselines.bounded_read import METRICS_CSV_BYTES, open_regular
from baselines.compare.plan import CompareError, CompareSettings, RunSpec
from baselines.compare.results import is_finished
from baselines.compare.task import (
    POLL_SECONDS,
    budget_steps,
    clear_stale_outcome,
    init_training_process,
    steps_bar,
    train_one,
    write_worker_error,
)
from baselines.runs import FAILED, FINISHED, METRICS_FILE, SUMMARY_FILE


@dataclass(frozen=True)
class LocalExecutor:
    """``compare``'s default executor (``baselines.compare.executor.Executor``): ``workers`` processes here."""

    workers: int
    device: str = "cpu"
    tensorboard_log: str | None = None

    def open(self) -> None:
        if self.workers < 1:
            raise CompareError(f"--workers must be at least 1, got {self.workers}")
        if self.device.startswith("cuda"):  # else every run would start, then fail on its own
            from baselines.devices import resolve_device

            try:
                resolve_device(self.device)
            except ValueError as error:
                raise CompareError(f"--device {self.device}: {error}; use --device cpu or auto") from None

    def run(self, root: Path, runs: Sequence[RunSpec], settings: CompareSettings, progress: bool) -> None:
        run_matrix(root, runs, settings, self.workers, self.device, progress, self.tensorboard_log)

    def close(self) -> None:
        pass  # run_matrix shuts its worker processes down itself


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
    done_steps = sum(budget_steps(run) for run in runs if run not in todo)
    bar = steps_bar(runs, done_steps, progress)
    try:
        while todo or running:
            busy = {slot for slot, _ in running.values()}
            for slot in range(len(slots)):
                if todo and slot not in busy:
                    run = todo.popleft()
                    slots[slot] = slots[slot] or _new_worker()
                    clear_stale_outcome(run.run_dir(root))
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
                done_steps += budget_steps(run)
                bar.set_postfix_str(f"failed={failed} last: {run.label()}: {outcome['text']}", refresh=False)
            in_progress = sum(_steps_so_far(run.run_dir(root)) for _, run in running.values())
            bar.n = done_steps + in_progress
            bar.refresh()
    finally:
        bar.close()
        for executor in slots:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)


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


def _record_worker_death(run: RunSpec, root: Path, error: BaseException) -> dict[str, Any]:
    reason = f"the worker process died while training this run (killed, out of memory, or crashed): {error}"
    if not (run.run_dir(root) / SUMMARY_FILE).exists():
        write_worker_error(run.run_dir(root), reason)
    return {"status": FAILED, "text": "worker died"}
