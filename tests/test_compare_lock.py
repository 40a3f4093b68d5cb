"""``compare.lock``: an OS lock that exactly one process holds, whatever the lock file holds or is."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
from deadline import in_thread

from baselines.compare import LOCK_FILE, CompareError, directory_lock

PROCESSES = 32
ROUNDS = 100
STALE_PID = "999999999\n"  # above Linux's pid_max: a process that cannot exist


def _contend(root: Path, index: int, barrier: object, wins: Any) -> None:
    """Each round: (3 rounds in 4: process 0 leaves a stale lock file), all try at once, the winner holds the lock until
    every process has tried."""
    for round_ in range(ROUNDS):
        barrier.wait(timeout=60)  # type: ignore[attr-defined]
        if index == 0 and round_ % 4 != 3:
            (root / LOCK_FILE).write_text(STALE_PID, encoding="utf-8")
        barrier.wait(timeout=60)  # type: ignore[attr-defined]
        try:
            with directory_lock(root):
                with wins.get_lock():
                    wins[round_] += 1
                barrier.wait(timeout=60)  # type: ignore[attr-defined]
        except CompareError:
            barrier.wait(timeout=60)  # type: ignore[attr-defined]


def test_exactly_one_of_many_processes_released_at_once_gets_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # fast to start; the lock module is already imported
    barrier, wins = context.Barrier(PROCESSES), context.Array("i", ROUNDS)
    workers = [context.Process(target=_contend, args=(tmp_path, i, barrier, wins)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert list(wins) == [1] * ROUNDS  # one winner per round, never two, never none
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_huge_pid_in_the_lock_file_is_just_a_stale_lock(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text(f"{10**20}\n", encoding="utf-8")
    with directory_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text(encoding="utf-8") == f"{os.getpid()}\n"


def test_a_second_lock_in_the_same_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = rf"in use by another compare \(process {os.getpid()}, per "
    with directory_lock(tmp_path), pytest.raises(CompareError, match=holder), directory_lock(tmp_path):
        pass
    with directory_lock(tmp_path):  # released
        pass


def _refusal(root: Path) -> str:
    """The lock's refusal, from a thread: a lock that loops or blocks fails the test instead of hanging it."""

    def take_lock() -> None:
        with directory_lock(root):
            pass

    outcome = in_thread(take_lock, timeout=20)
    assert isinstance(outcome, CompareError), outcome
    assert "\n" not in str(outcome)
    return str(outcome)


@pytest.mark.parametrize("kind", ["dangling", "loop", "to a file", "to /dev/zero", "fifo", "huge"])
def test_a_lock_file_that_is_no_plain_small_file_is_refused_with_a_message(kind: str, tmp_path: Path) -> None:
    path = tmp_path / LOCK_FILE
    elsewhere = tmp_path / "elsewhere"
    if kind == "dangling":
        path.symlink_to(elsewhere)
    elif kind == "loop":
        path.symlink_to(elsewhere)
        elsewhere.symlink_to(path)
    elif kind == "to a file":
        elsewhere.write_text(STALE_PID, encoding="utf-8")
        path.symlink_to(elsewhere)
    elif kind == "to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        with open(path, "wb") as file:
            file.truncate(4 * 1024**3)
    message = _refusal(tmp_path)
    expected = {"fifo": "is not a regular file (a FIFO)", "huge": "over the 64-byte cap"}.get(kind, "symbolic link")
    assert expected in message and "delete it" in message
    assert not elsewhere.exists() or elsewhere.is_symlink() or elsewhere.read_text(encoding="utf-8") == STALE_PID
