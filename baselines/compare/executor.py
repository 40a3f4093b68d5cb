"""What ``compare`` asks of the thing that trains its runs: ``LocalExecutor`` (worker processes on this machine,
``baselines.compare.execute``) or ``RayExecutor`` (Ray tasks on a cluster, ``baselines.compare.ray_executor``).
Planning, resuming, the lock and the results files are ``compare``'s, the same for both."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from baselines.compare.plan import CompareSettings, RunSpec


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (runs in flight stopped, results written); the CLI exits with ``exit_code``."""

    exit_code = 143  # 128 + SIGTERM, what shells report for a process that SIGTERM ended


class Executor(Protocol):
    """``compare`` calls ``open`` before it writes anything into ``DIR``, then ``run``, and ``close`` at the end."""

    def open(self) -> None:
        """Get ready to train (connect to a cluster, check the device), or refuse with a ``CompareError`` naming
        the fix: a comparison that cannot start leaves no trace."""

    def run(self, root: Path, runs: Sequence[RunSpec], settings: CompareSettings, progress: bool) -> None:
        """Train every run of ``runs`` not finished in ``root`` yet, writing each into its run directory;
        interruptions propagate, with the runs in flight stopped."""

    def close(self) -> None:
        """Release what ``open`` took; safe to call more than once."""
